/**
 * The fault suite's engine: a simulated tenant (Graph and two PowerShell proxies over one data set),
 * a MongoDB database and a Redis prefix of its own, the tenant registered, and real sync workers in
 * child processes (fault-worker.ts) that a case kills, freezes or cuts off. Every case ends by
 * comparing MongoDB with the data set and checking every run record is terminal.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import { RUN_STATUSES, type SyncRun } from '../../../domain/sync-run.js';
import { ENTITY_KINDS } from '../../../domain/entity-kinds.js';
import {
  createSyncQueue,
  type EnqueueResult,
  type SyncJobData,
  type SyncRequest,
} from '../../../queues/sync-queue.js';
import { parseSettings } from '../../../domain/settings.js';
import { openStores, type Stores } from '../../../connectors/mongo/stores.js';
import type { Dataset, DatasetOptions } from '../../../simulators/dataset.js';
import {
  startSimulatedTenant,
  type SimulatedTenant,
  type SimulatedTenantOptions,
} from '../../../simulators/m365.js';
import { allowSimulatedTenant } from '../../../cli/in-process.js';
import { printed, root, spawnTs } from '../../support/child-process.js';
import { testEnv } from '../../support/env.js';
import { expectedIds as expectedIdsOf } from '../expected-data.js';
import { keyEntry } from '../../support/keys.js';
import { testMongo, uniqueName, type TestMongo } from '../../support/services.js';
import { eventually } from '../../workers/support/harness.js';
import { enqueueRecorded } from '../../../operations/index.js';

const WORKER = fileURLToPath(new URL('./fault-worker.ts', import.meta.url));

export interface ChildWorker {
  proc: ChildProcess;
  id: string;
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

export interface FaultEngineOptions {
  dataset?: DatasetOptions;
  /** Redis for the queue (default: the shared one, under this engine's prefix). */
  redisUrl?: string;
  /** Exchange kinds too (default true). */
  enableExchange?: boolean;
  /** Where the simulated tenant listens and how it is paced (default: loopback, unpaced). */
  tenant?: Pick<SimulatedTenantOptions, 'host' | 'graphLatencyMs' | 'objectsPerSecond'>;
}

export interface SpawnWorkerOptions {
  /** Run the worker in this network namespace (`ip netns exec`): a worker "host" of its own. */
  netns?: string;
}

/** Settings of the workers and the queue, seconds long so that a case takes seconds. */
export const FAST_ENV: Record<string, string> = {
  SYNC_WORKER_CONCURRENCY: '1',
  SYNC_LOCK_DURATION_MS: '3000',
  SYNC_STALLED_INTERVAL_MS: '1000',
  SYNC_MAX_STALLED_COUNT: '2',
  SYNC_LEASE_TTL_MS: '4000',
  SYNC_LEASE_CLOCK_SKEW_MS: '0',
  SYNC_LEASE_RETRY_MS: '500',
  SYNC_REAPER_INTERVAL_MS: '500',
  SYNC_ENQUEUE_GRACE_MS: '2000',
  SYNC_ATTEMPTS: '3',
  SYNC_BACKOFF_MS: '500',
  MONGODB_SOCKET_TIMEOUT_MS: '1500',
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1500',
};

export class FaultEngine {
  readonly workers: ChildWorker[] = [];
  private constructor(
    readonly sim: SimulatedTenant,
    readonly mongo: TestMongo,
    readonly redisUrl: string,
    readonly prefix: string,
    readonly queue: Queue<SyncJobData, unknown, string>,
    readonly stores: Stores,
    readonly runs: SyncRunStore,
    readonly tenantId: string,
    private readonly keys: string,
    private readonly dir: string,
  ) {}

  static async start(label: string, options: FaultEngineOptions = {}): Promise<FaultEngine> {
    const sim = await startSimulatedTenant({
      dataset: { seed: 7, users: 40, callQueues: 12, autoAttendants: 9, ...options.dataset },
      enableExchange: options.enableExchange ?? true,
      ...options.tenant,
    });
    const mongo = await testMongo(label);
    const redisUrl = options.redisUrl ?? testEnv().redisUrl;
    const prefix = uniqueName(label);
    const keys = keyEntry(label.replace(/[^A-Za-z0-9_-]/g, ''));
    const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keys }));
    const runs = new SyncRunStore(mongo.db);
    await runs.ensureIndexes();
    await allowSimulatedTenant(stores, sim);
    const tenantId = (await stores.tenants.add(sim.tenantInput)).id;
    const dir = mkdtempSync(join(tmpdir(), 'm365sync-faults-'));
    writeFileSync(join(dir, 'graph-ca.pem'), sim.ca);
    const queue = createSyncQueue({ url: redisUrl, prefix });
    return new FaultEngine(sim, mongo, redisUrl, prefix, queue, stores, runs, tenantId, keys, dir);
  }

  /** The environment of a worker process (and of the CLI) reaching this engine. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      MONGODB_URI: testEnv().mongoUri,
      M365SYNC_DB: this.mongo.db.databaseName,
      [ENCRYPTION_KEYS_VARIABLE]: this.keys,
      REDIS_URL: this.redisUrl,
      M365SYNC_QUEUE_PREFIX: this.prefix,
      FAULT_GRAPH_CA_FILE: join(this.dir, 'graph-ca.pem'),
      ...FAST_ENV,
      ...extra,
    };
  }

  /**
   * Requests a sync of the engine's tenant as the CLI or the API does, with a run record. Attempts and
   * backoff are job options fixed by whoever enqueues, so they come from this engine's settings
   * (FAST_ENV, with `env` on top), not from the worker's: with the defaults (3 attempts, 60 s
   * backoff) a retry after a fault would come later than a case waits.
   */
  enqueue(
    request: Omit<SyncRequest, 'tenantId' | 'trigger'> & Partial<Pick<SyncRequest, 'trigger'>>,
    env: Record<string, string> = {},
  ): Promise<EnqueueResult> {
    return enqueueRecorded(
      { queue: this.queue, stores: { runs: this.runs }, settings: parseSettings(this.env(env)) },
      {
        request: { tenantId: this.tenantId, trigger: 'cli', ...request },
        hierarchy: 'demo.provider.contoso',
      },
    );
  }

  /**
   * A real worker process; resolves once it takes jobs. With FAULT_LOG_DIR set, each worker's log
   * (level FAULT_LOG_LEVEL, default debug) goes to `<dir>/<case label>-<worker id>.log`, to diagnose a
   * failed case.
   */
  async spawnWorker(
    id: string,
    extra: Record<string, string> = {},
    options: SpawnWorkerOptions = {},
  ): Promise<ChildWorker> {
    const logDir = process.env.FAULT_LOG_DIR;
    const spawnOptions: SpawnOptions = {
      env: this.env({
        FAULT_WORKER_ID: id,
        ...(logDir ? { FAULT_LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'debug' } : {}),
        ...extra,
      }),
      stdio: ['ignore', 'pipe', 'inherit'],
    };
    // `ip netns exec` enters the namespace and execs Node.js in the same process, so signals reach it.
    const proc = options.netns
      ? spawn('ip', ['netns', 'exec', options.netns, process.execPath, '--import', 'tsx', WORKER], {
          ...spawnOptions,
          cwd: root,
        })
      : spawnTs(WORKER, [], spawnOptions);
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      proc.stdout!.pipe(createWriteStream(join(logDir, `${this.prefix}-${id}.log`)));
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await printed(proc, 'stdout', 'ready', `worker ${id}`);
    const worker: ChildWorker = {
      proc,
      id,
      exited,
      kill: (signal) => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      },
    };
    this.workers.push(worker);
    return worker;
  }

  /** Kills a worker with SIGKILL and waits until it is gone. */
  async killWorker(worker: ChildWorker): Promise<void> {
    worker.kill('SIGCONT');
    worker.kill('SIGKILL');
    await worker.exited;
  }

  /** Objects of the tenant stored per kind: external ids, sorted. */
  async stored(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const k of ENTITY_KINDS) {
      const docs = await this.mongo.db
        .collection(k.collection)
        .find({ tenantId: this.tenantId }, { projection: { externalId: 1 } })
        .toArray();
      out[k.kind] = docs.map((d) => String(d.externalId)).sort();
    }
    return out;
  }

  /** MongoDB holds exactly the data set: nothing lost, nothing duplicated, nothing stale. */
  async expectMatchesDataset(ds: Dataset = this.sim.dataset()): Promise<void> {
    const stored = await this.stored();
    const expected = expectedIds(ds);
    // On a mismatch, say what the runs recorded for each kind: the diff alone does not tell why.
    const why = JSON.stringify(stored) === JSON.stringify(expected) ? undefined : await this.kindErrors();
    expect(stored, why).toEqual(expected);
  }

  /** Each run's status and the errors its kinds recorded, for a failed case's message. */
  private async kindErrors(): Promise<string> {
    const list = await this.runs.list({ tenantId: this.tenantId, limit: 20 });
    return list
      .map((r) => {
        const kinds = Object.entries(r.kinds ?? {})
          .filter(([, k]) => k.error)
          .map(([kind, k]) => `${kind}: ${k.error?.code} ${k.error?.message}`);
        return `run ${r.id} ${r.status} (worker ${r.worker}): ${kinds.join('; ') || 'no kind failed'}`;
      })
      .join('\n');
  }

  /** Waits until no run record of the tenant is queued or running; returns them, newest first. */
  async settledRuns(timeoutMs = 60_000): Promise<SyncRun[]> {
    return eventually(async () => {
      const list = await this.runs.list({ tenantId: this.tenantId, limit: 500 });
      return list.every((r) => r.status !== 'queued' && r.status !== 'running') && list;
    }, timeoutMs);
  }

  /** Every record terminal, with an error for every unsuccessful one and a pointer for a merged one. */
  expectTruthful(list: SyncRun[]): void {
    const terminal = RUN_STATUSES.filter((s) => s !== 'queued' && s !== 'running');
    for (const run of list) {
      expect(terminal).toContain(run.status);
      if (run.status === 'failed' || run.status === 'cancelled') expect(run.error?.message).toBeTruthy();
      if (run.status === 'merged') expect(run.mergedInto ?? run.error).toBeTruthy();
      if (run.status !== 'merged' && run.status !== 'failed') expect(run.startedAt).toBeTruthy();
      expect(run.endedAt).toBeTruthy();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.killWorker(w)));
    await this.queue.obliterate({ force: true }).catch(() => undefined);
    await this.queue.close();
    // Whatever else this engine left under its prefix (limiter keys): the Redis may be shared.
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await this.sim.close();
    await this.mongo.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What each collection must hold for a data set, by the kind's id property (Exchange included). */
export const expectedIds = (ds: Dataset): Record<string, string[]> => expectedIdsOf(ds, { exchange: true });
