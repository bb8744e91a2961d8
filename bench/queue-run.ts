/**
 * One benchmark run's own database and queue, and syncs measured through them: what bench/nightly.ts
 * and bench/fleet.ts share. A run gets a fresh database and queue prefix (`<label>_<random>`), the
 * simulated tenant's loopback addresses allow-listed as an administrator would, and the worker
 * children (bench/children.ts) started for that database; `syncThrough` then enqueues syncs of some
 * tenants, waits for each, and gathers the workers' stats around them.
 */
import { randomBytes } from 'node:crypto';
import { allowSimulatedTenant } from '../cli/in-process.js';
import { connectMongo, type MongoConnection } from '../connectors/mongo/connection.js';
import { createKeyRing } from '../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../connectors/mongo/stores.js';
import { parseSettings, type Settings } from '../domain/settings.js';
import type { SyncRun } from '../domain/sync-run.js';
import { redisSettings } from '../queues/connection.js';
import { addSyncJob, createSyncQueue, prepareSync, waitForRun } from '../queues/sync-queue.js';
import type { TenantChild, WorkerChild, WorkerStart } from './children.js';
import type { WorkerStats } from './worker-child.js';

export interface QueueRun {
  /** The database name, also the queue prefix. */
  name: string;
  settings: Settings;
  mongo: MongoConnection;
  stores: Stores;
  queue: ReturnType<typeof createSyncQueue>;
  /** What a worker child needs to serve this run (bench/children.ts). */
  workerStart(sim: TenantChild, idIndex: boolean): WorkerStart;
  /** Empties the queue and drops the database (stop the workers first). */
  close(): Promise<void>;
}

export async function openQueueRun(label = 'bench'): Promise<QueueRun> {
  const name = `${label}_${randomBytes(3).toString('hex')}`;
  const settings = parseSettings({ ...process.env, M365SYNC_DB: name, M365SYNC_QUEUE_PREFIX: name });
  const mongo = await connectMongo(settings);
  const key = randomBytes(32);
  const stores = await openStores(mongo.db, createKeyRing(new Map([['bench', key]])));
  // The simulated tenant (a child process) listens on loopback: allow-list it as an administrator would.
  await allowSimulatedTenant(stores, {
    destinations: [
      { kind: 'graph', entry: '127.0.0.1' },
      { kind: 'powershell', entry: '127.0.0.1' },
    ],
  });
  const queue = createSyncQueue(redisSettings(settings));
  return {
    name,
    settings,
    mongo,
    stores,
    queue,
    workerStart: (sim, idIndex) => ({
      idIndex,
      database: name,
      queuePrefix: name,
      keyHex: key.toString('hex'),
      ca: sim.ca,
    }),
    async close() {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await mongo.db.dropDatabase().catch(() => {});
      await mongo.close();
    },
  };
}

export interface RunCounts {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

/** A run record's counts over its kinds; `objects` is what it stored or found stored (not deleted). */
export function runCounts(run: SyncRun | null): RunCounts & { objects: number } {
  const kinds = Object.values(run?.kinds ?? {});
  const sum = (f: (k: (typeof kinds)[number]) => number) => kinds.reduce((n, k) => n + f(k), 0);
  const counts = {
    created: sum((k) => k.created),
    updated: sum((k) => k.updated),
    unchanged: sum((k) => k.unchanged),
    deleted: sum((k) => k.deleted),
  };
  return { ...counts, objects: counts.created + counts.updated + counts.unchanged };
}

export interface Syncs {
  /** From the first request to the last run's end, as a client waiting for them sees it. */
  seconds: number;
  /** Each worker's stats over the syncs (bench/worker-child.ts). */
  stats: WorkerStats[];
  /** Each tenant's run record, in the order asked (null: the job did not complete). */
  runs: (SyncRun | null)[];
  /** Each job's end state (completed, failed). */
  states: string[];
}

/**
 * Requests a sync of each tenant (all at once, as a schedule does) and waits for every run to end,
 * with the workers measuring from just before the first request to just after the last end.
 * `profile`: a path per worker for a CPU profile of the syncs (bench/cpu-profile.ts).
 */
export async function syncThrough(
  run: QueueRun,
  workers: WorkerChild[],
  tenantIds: string[],
  options: { pollMs?: number; profile?: (worker: number) => string } = {},
): Promise<Syncs> {
  await Promise.all(
    workers.map((w, i) => w.request({ cmd: 'begin', profile: options.profile?.(i) }, 'done')),
  );
  const started = performance.now();
  const jobs: string[] = [];
  for (const tenantId of tenantIds) {
    const request = { tenantId, trigger: 'cli' as const, requestedBy: 'bench' };
    const { jobId } = await addSyncJob(run.queue, await prepareSync(run.queue, request));
    jobs.push(jobId);
  }
  // One at a time: the bench's own polling of Redis stays small beside the workers' traffic.
  const ends = [];
  for (const jobId of jobs)
    ends.push(await waitForRun(run.queue, jobId, { pollMs: options.pollMs ?? 50, timeoutMs: 30 * 60_000 }));
  const seconds = (performance.now() - started) / 1000;
  const stats = await Promise.all(workers.map((w) => w.request<WorkerStats>({ cmd: 'end' }, 'stats')));
  const runs = await Promise.all(
    ends.map((end) =>
      end.state === 'completed'
        ? run.stores.runs.get((end.result as { runId: string }).runId)
        : Promise.resolve(null),
    ),
  );
  return { seconds, stats, runs, states: ends.map((e) => e.state) };
}
