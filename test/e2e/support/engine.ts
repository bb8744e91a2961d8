/**
 * The end-to-end set-up every e2e file shares: a simulated tenant (Graph and two PowerShell proxies),
 * its own MongoDB database and Redis prefix, the stores, the in-process engine of the demo
 * (cli/in-process.ts: the full pull in a worker, the sync queue) with the tests' short timings, and
 * the environment the real CLI needs to reach them. Torn down by `close()`.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import type { SyncRun } from '../../../domain/sync-run.js';
import { waitForRun, type SyncJobData } from '../../../queues/sync-queue.js';
import { enqueueUnrecorded } from '../../queues/support/enqueue-unrecorded.js';
import type { GraphRetryOptions } from '../../../connectors/graph/connector.js';
import type { WinRmSettings } from '../../../connectors/winrm/settings.js';
import type { DatasetOptions } from '../../../simulators/dataset.js';
import {
  startSimulatedTenant,
  type SimulatedTenant,
  type SimulatedTenantOptions,
} from '../../../simulators/m365.js';
import { openStores, type Stores } from '../../../connectors/mongo/stores.js';
import { startInProcessEngine } from '../../../cli/in-process.js';
import type { ProxyStatus } from '../../../connectors/winrm/index.js';
import { testEnv } from '../../support/env.js';
import { keyEntry } from '../../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../../support/services.js';
import { fastQueue, quietLogger } from '../../workers/support/harness.js';

export interface Engine {
  sim: SimulatedTenant;
  mongo: TestMongo;
  redis: TestRedis;
  stores: Stores;
  queue: Queue<SyncJobData, unknown, string>;
  /** Environment for the real CLI (`test/support/cli.ts`) to reach this engine's stores and queue. */
  cliEnv(operator: string): NodeJS.ProcessEnv;
  /** Waits for a job's run and returns its record (and the job's return value). */
  runOf(jobId: string, tenantId: string): Promise<{ run: SyncRun; jobResult: unknown }>;
  /** Enqueues a sync of a tenant (a full pull, or a delta run) and waits for its run. */
  sync(tenantId: string, requestedBy: string, kinds?: string[], mode?: 'delta'): Promise<SyncRun>;
  /** Starts the worker (when the engine was started with `worker: false`). */
  startWorker(): Promise<void>;
  /** The worker's PowerShell proxies, as its pools see them (in service or cooling down). */
  proxyStatus(): ProxyStatus[];
  close(): Promise<void>;
}

export async function startEngine(
  label: string,
  options: {
    dataset: DatasetOptions;
    enableExchange?: boolean;
    appCertificates?: string[];
    logger?: Logger;
    /** Start the worker at once (default true); false: later, with `startWorker()`. */
    worker?: boolean;
    /** M365SYNC_ENCRYPTION_KEYS for the engine (default: a fresh key). */
    keys?: string;
    /** Runs on the database before the engine opens its stores (e.g. data written under another key). */
    prepare?: (db: TestMongo['db'], sim: SimulatedTenant) => Promise<void>;
    /** More of the simulated tenant (proxies, a slow PowerShell side…). */
    simulator?: Omit<SimulatedTenantOptions, 'dataset' | 'enableExchange'>;
    /** Graph retry timing (the fault suite shortens the backoff). */
    graphRetry?: GraphRetryOptions;
    /** WinRM settings on top of plain HTTP (the fault suite shortens the proxies' cool-down). */
    winrm?: WinRmSettings;
  },
): Promise<Engine> {
  const sim = await startSimulatedTenant({
    ...options.simulator,
    dataset: options.dataset,
    enableExchange: options.enableExchange,
    appCertificates: options.appCertificates,
  });
  const mongo = await testMongo(label);
  const redis = await testRedis(label);
  const keys = options.keys ?? keyEntry(label.replace(/[^A-Za-z0-9_-]/g, ''));
  await options.prepare?.(mongo.db, sim);
  const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keys }));
  const engine = await startInProcessEngine({
    sim,
    stores,
    db: mongo.db,
    redis: { url: redis.url, prefix: redis.prefix },
    logger: options.logger ?? quietLogger,
    worker: options.worker,
    workerSettings: { concurrency: 1, lockDurationMs: 30_000, leaseTtlMs: 30_000, leaseClockSkewMs: 0 },
    queueSettings: { ...fastQueue, attempts: 1 },
    graph: { limiter: { keyPrefix: redis.prefix }, retry: options.graphRetry },
    winrm: options.winrm,
    affinityKey: label,
  });
  const queue = engine.queue;

  const runOf = async (jobId: string, tenantId: string) => {
    const end = await waitForRun(queue, jobId, { tenantId, pollMs: 100, timeoutMs: 120_000 });
    if (end.state !== 'completed') throw new Error(`run failed: ${end.reason}`);
    const run = await new SyncRunStore(mongo.db).get((end.result as { runId: string }).runId);
    if (!run) throw new Error(`no run record for job ${jobId}`);
    return { run, jobResult: end.result };
  };
  return {
    sim,
    mongo,
    redis,
    stores,
    queue,
    cliEnv: (operator) => ({
      MONGODB_URI: testEnv().mongoUri,
      M365SYNC_DB: mongo.db.databaseName,
      M365SYNC_ENCRYPTION_KEYS: keys,
      REDIS_URL: redis.url,
      M365SYNC_QUEUE_PREFIX: redis.prefix,
      M365SYNC_OPERATOR: operator,
    }),
    runOf,
    async sync(tenantId, requestedBy, kinds, mode) {
      const { jobId } = await enqueueUnrecorded(queue, {
        tenantId,
        trigger: 'cli',
        requestedBy,
        ...(kinds ? { kinds } : {}),
        ...(mode ? { mode } : {}),
      });
      return (await runOf(jobId, tenantId)).run;
    },
    startWorker: engine.startWorker,
    proxyStatus: engine.proxyStatus,
    async close() {
      await engine.close(1000);
      await sim.close();
      await redis.close();
      await mongo.close();
    },
  };
}
