/**
 * The whole engine in one process, against a simulated tenant: the full pull, a worker and the sync
 * queue, wired as the `worker` command wires them but with the simulators' CA and plain-HTTP proxies.
 * The one such wiring: the demo, the full-pull benchmark and the end-to-end tests
 * (test/e2e/support/engine.ts) run on it; the tests give shorter timings through the options.
 */
import type { Queue } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { RedisSettings } from '../queues/connection.js';
import { globalDeleteThresholds } from '../domain/delete-protection.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import type { ProxyStatus, WinRmSettings } from '../connectors/winrm/index.js';
import {
  createSyncQueue,
  syncQueueSettings,
  type SyncJobData,
  type SyncQueueSettings,
} from '../queues/sync-queue.js';
import type { SimulatedTenant } from '../simulators/m365.js';
import type { Stores } from '../connectors/mongo/index.js';
import { createFullPull, type FullPullOptions } from '../workers/full-pull.js';
import {
  startWorkerWithUpkeep,
  workerSettings,
  type SyncWorker,
  type WorkerSettings,
} from '../workers/worker.js';

export interface InProcessEngine {
  queue: Queue<SyncJobData, unknown, string>;
  /** Starts the worker (when the engine was started with `worker: false`); idempotent. */
  startWorker(): Promise<void>;
  /** The worker's PowerShell proxies, as its pools see them (in service or cooling down). */
  proxyStatus(): ProxyStatus[];
  /** Stops the worker within `graceMs` (default 5 s), then the full pull's pools and the queue. */
  close(graceMs?: number): Promise<void>;
}

export interface InProcessEngineOptions {
  sim: SimulatedTenant;
  stores: Stores;
  db: Db;
  redis: RedisSettings;
  logger: Logger;
  /** The process settings (default: the defaults); WinRM is plain HTTP to the simulated proxies. */
  settings?: Settings;
  /** Start the worker at once (default true); false: later, with `startWorker()`. */
  worker?: boolean;
  /** Replace the worker's timings taken from `settings` (the tests shorten leases and locks). */
  workerSettings?: Partial<WorkerSettings>;
  /** Replace the attempts, backoff and retention taken from `settings`. */
  queueSettings?: SyncQueueSettings;
  /** More Graph options than the simulators' CA: the limiter's key prefix, retry timing. */
  graph?: Omit<NonNullable<FullPullOptions['graph']>, 'ca'>;
  /** WinRM settings on top of plain HTTP (the fault suite shortens the proxies' cool-down). */
  winrm?: WinRmSettings;
  /** This engine's key in the proxies' rendezvous-hash affinity (default `in-process-worker`). */
  affinityKey?: string;
}

/** Adds the allow-list entries the simulated tenant's connection needs (its simulators are on loopback). */
export async function allowSimulatedTenant(
  stores: Pick<Stores, 'destinations'>,
  sim: Pick<SimulatedTenant, 'destinations'>,
): Promise<void> {
  for (const d of sim.destinations)
    await stores.destinations.allow(d.kind, d.entry, 'the simulated tenant (demo, tests)');
}

export async function startInProcessEngine(options: InProcessEngineOptions): Promise<InProcessEngine> {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  await allowSimulatedTenant(options.stores, options.sim);
  const fullPull = createFullPull({
    stores: options.stores,
    graph: { ca: options.sim.ca, ...options.graph },
    // The simulated proxies speak plain HTTP (the documented Basic + AllowUnencrypted set-up).
    winrm: { scheme: 'http', affinityKey: options.affinityKey ?? 'in-process-worker', ...options.winrm },
    logger: options.logger,
    settings,
  });
  let worker: SyncWorker | undefined;
  const startTheWorker = async () => {
    worker ??= await startWorkerWithUpkeep({
      redis: options.redis,
      db: options.db,
      processor: fullPull.processor,
      settings: options.workerSettings ?? workerSettings(settings),
      queueSettings: options.queueSettings ?? syncQueueSettings(settings),
      deleteThresholds: globalDeleteThresholds(settings),
      logger: options.logger,
    });
  };
  if (options.worker !== false) await startTheWorker();
  const queue = createSyncQueue(options.redis);
  return {
    queue,
    startWorker: startTheWorker,
    proxyStatus: () => fullPull.proxyStatus(),
    async close(graceMs = 5000) {
      await worker?.close(graceMs);
      await fullPull.close();
      await queue.close();
    },
  };
}
