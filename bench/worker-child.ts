/**
 * The worker for bench/nightly.ts, in its own process as in production (`m365sync worker`), so its
 * peak RSS and CPU are the engine's alone: neither the bench's queue and stores nor the simulated
 * tenant share its heap. Started with fork() per run (a fresh process, so one size's memory does not
 * carry into the next); the first IPC message configures it:
 *   { start: { idIndex, database, queuePrefix, keyHex, ca } } → { ready: { heapGrowthPercent } } once it
 *   takes jobs (the heap growth it applied, SYNC_WORKER_HEAP_GROWTH_PERCENT)
 * then, around each sync (or each batch of syncs, bench/fleet.ts):
 *   { cmd: 'begin', profile? } → counters reset, memory sampled from now on → { done: 'begin' };
 *                                with `profile` (a file path), V8's CPU profiler runs until `end`
 *                                and writes its .cpuprofile there (bench/cpu-profile.ts reads it)
 *   { cmd: 'end' }   → { stats: { storeMs, cpuSeconds, mongoCommands, peak, after, trace, pictures } }
 * and SIGTERM closes it.
 *
 * Its MongoDB client counts the commands it sends (the driver's command monitoring, `monitorCommands`
 * in the connection string), so a benchmark can report MongoDB operations per run.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { writeHeapSnapshot } from 'node:v8';
import { parseSettings } from '../domain/settings.js';
import { connectMongo } from '../connectors/mongo/connection.js';
import { createKeyRing } from '../connectors/mongo/encryption.js';
import { KindWriter } from '../connectors/mongo/kind-writer.js';
import { StoredKeys } from '../connectors/mongo/stored-keys.js';
import { openStores } from '../connectors/mongo/stores.js';
import { writeLimitsFor } from '../connectors/mongo/write-limits.js';
import { createLogger } from '../observability/logger.js';
import { redisSettings } from '../queues/connection.js';
import { syncQueueSettings } from '../queues/sync-queue.js';
import { createFullPull } from '../workers/full-pull.js';
import { limitHeapGrowth } from '../workers/heap-growth.js';
import { startWorkerWithUpkeep, workerSettings } from '../workers/worker.js';
import type { WorkerStart } from './children.js';

export interface KindTrace {
  pages: number;
  first: number;
  last: number;
  writeMs: number;
  maxGap: number;
}
export interface WorkerStats {
  /** Wall time during which some KindWriter.write was in progress (overlaps merged). */
  storeMs: number;
  cpuSeconds: number;
  /** MongoDB commands this worker sent, by command name (insert, update, find, getMore, …). */
  mongoCommands: Record<string, number>;
  /** process.memoryUsage() at the highest RSS sampled during the sync. */
  peak: NodeJS.MemoryUsage;
  /** After the sync, with a forced collection when started with --expose-gc (a leak would grow here). */
  after: NodeJS.MemoryUsage;
  /** Per kind: when its pages were written (ms from `begin`), the write time and the longest wait. */
  trace: Record<string, KindTrace>;
  /** Per collection: reading its stored picture (stored-keys.ts), how many keys and how long (ms). */
  pictures: Record<string, { keys: number; ms: number }>;
}
type Start = WorkerStart;

let writing = 0;
let writingSince = 0;
let storeMs = 0;
let from = 0;
let trace: Record<string, KindTrace> = {};
const originalWrite = KindWriter.prototype.write;
KindWriter.prototype.write = function (this: KindWriter, objects) {
  const t0 = performance.now();
  if (writing++ === 0) writingSince = t0;
  return originalWrite.call(this, objects).finally(() => {
    const t1 = performance.now();
    if (--writing === 0) storeMs += t1 - writingSince;
    const k = (trace[this.kind] ??= { pages: 0, first: t0 - from, last: t0 - from, writeMs: 0, maxGap: 0 });
    k.maxGap = Math.max(k.maxGap, t0 - from - k.last);
    k.pages++;
    k.last = t1 - from;
    k.writeMs += t1 - t0;
  });
};

let pictures: WorkerStats['pictures'] = {};
const originalLoad = StoredKeys.load.bind(StoredKeys);
StoredKeys.load = async (col, tenantId, hierarchy) => {
  const t0 = performance.now();
  const keys = await originalLoad(col, tenantId, hierarchy);
  const name = (col as { collectionName?: string }).collectionName ?? '?';
  pictures[name] = { keys: keys.size, ms: performance.now() - t0 };
  return keys;
};

let mongoCommands: Record<string, number> = {};
let profiler: Session | undefined;
let profilePath = '';

let sampling = false;
let peak = process.memoryUsage();
// BENCH_HEAP_SNAPSHOT_MB=N (bench/nightly.ts --heap-snapshot-mb N): one heap snapshot, in the working
// directory, the first time the heap in use passes N MB during a sync (what holds the peak).
let snapshotAt = Number(process.env.BENCH_HEAP_SNAPSHOT_MB ?? 0) * 2 ** 20;
const sampler = setInterval(() => {
  if (!sampling) return;
  // RSS alone is cheap; the full picture (heap spaces) only when RSS sets a new peak: sampling
  // process.memoryUsage() every 50 ms cost a few per cent of the worker's CPU, which the benchmarks
  // would have charged to the engine.
  if (process.memoryUsage.rss() <= peak.rss && !snapshotAt) return;
  const usage = process.memoryUsage();
  if (usage.rss > peak.rss) peak = usage;
  if (snapshotAt && usage.heapUsed > snapshotAt) {
    snapshotAt = 0;
    console.error(`worker: heap snapshot written to ${writeHeapSnapshot()}`);
  }
}, 50);
sampler.unref();
let cpu = process.cpuUsage();

const send = (m: object) => process.send?.(m);
let close: (() => Promise<void>) | undefined;
let heapGrowthPercent = 0;

process.on('message', async (m: { start?: Start; cmd?: 'begin' | 'end'; profile?: string }) => {
  if (m.start) {
    close = await start(m.start);
    send({ ready: { heapGrowthPercent } });
  } else if (m.cmd === 'begin') {
    (globalThis as { gc?: () => void }).gc?.();
    if (m.profile) {
      profilePath = m.profile;
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    [storeMs, trace, pictures, mongoCommands] = [0, {}, {}, {}];
    [from, cpu] = [performance.now(), process.cpuUsage()];
    peak = process.memoryUsage();
    sampling = true;
    send({ done: 'begin' });
  } else if (m.cmd === 'end') {
    sampling = false;
    const used = process.cpuUsage(cpu);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(profilePath, JSON.stringify(profile));
      profiler.disconnect();
      profiler = undefined;
    }
    (globalThis as { gc?: () => void }).gc?.();
    const stats: WorkerStats = {
      storeMs,
      cpuSeconds: (used.user + used.system) / 1e6,
      mongoCommands,
      peak,
      after: process.memoryUsage(),
      trace,
      pictures,
    };
    send({ stats });
  }
});
process.on('SIGTERM', () => {
  void (close?.() ?? Promise.resolve()).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

async function start(s: Start): Promise<() => Promise<void>> {
  const settings = parseSettings({
    ...process.env,
    M365SYNC_DB: s.database,
    M365SYNC_QUEUE_PREFIX: s.queuePrefix,
  });
  heapGrowthPercent = settings.SYNC_WORKER_HEAP_GROWTH_PERCENT;
  limitHeapGrowth(heapGrowthPercent); // as `m365sync worker` does
  const logger = createLogger({ level: 'error' });
  const mongo = await connectMongo({
    ...settings,
    MONGODB_URI: withCommandMonitoring(settings.MONGODB_URI),
  });
  mongo.client.on('commandStarted', (e: { commandName: string }) => {
    mongoCommands[e.commandName] = (mongoCommands[e.commandName] ?? 0) + 1;
  });
  if (s.idIndex) {
    // With that index a `deleteOne` by `_id` costs a few milliseconds, while a `$in` still has FerretDB
    // read the whole collection (it does not push `$in` down to PostgreSQL): delete one by one, as the
    // store deletes with `$in` on MongoDB, where that is the indexed statement (write-limits.ts).
    (await writeLimitsFor(mongo.db)).inFrom = Infinity;
  }
  const stores = await openStores(
    mongo.db,
    createKeyRing(new Map([['bench', Buffer.from(s.keyHex, 'hex')]])),
  );
  const fullPull = createFullPull({
    stores,
    graph: { ca: s.ca },
    winrm: { scheme: 'http', affinityKey: 'bench-worker' },
    logger,
    settings,
  });
  const worker = await startWorkerWithUpkeep({
    redis: redisSettings(settings),
    db: mongo.db,
    processor: fullPull.processor,
    settings: workerSettings(settings),
    queueSettings: syncQueueSettings(settings),
    logger,
  });
  return async () => {
    await worker.close(5000);
    await fullPull.close();
    await mongo.close();
  };
}

/** The connection string with the driver's command monitoring on (it is a connection-string option). */
function withCommandMonitoring(uri: string): string {
  if (uri.includes('?')) return `${uri}&monitorCommands=true`;
  // mongodb://host[:port] needs the slash before the options; mongodb://host/db has it.
  return /^mongodb(\+srv)?:\/\/[^/]+$/.test(uri)
    ? `${uri}/?monitorCommands=true`
    : `${uri}?monitorCommands=true`;
}
