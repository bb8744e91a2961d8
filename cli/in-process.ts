/**
 * The whole engine in one process, against a simulated tenant: the full pull, a worker and the sync
 * queue, wired as the `worker` command wires them but with the simulators' CA and plain-HTTP proxies.
 * The demo and the full-pull benchmark run on it.
 */
import type { Queue } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { RedisSettings } from '../queues/connection.js';
import { globalDeleteThresholds } from '../domain/delete-protection.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { createSyncQueue, syncQueueSettings, type SyncJobData } from '../queues/sync-queue.js';
import type { SimulatedTenant } from '../simulators/m365.js';
import type { Stores } from '../connectors/mongo/stores.js';
import { createFullPull } from '../workers/full-pull.js';
import { startWorker, workerSettings } from '../workers/worker.js';

export interface InProcessEngine {
  queue: Queue<SyncJobData, unknown, string>;
  close(): Promise<void>;
}

/** Adds the allow-list entries the simulated tenant's connection needs (its simulators are on loopback). */
export async function allowSimulatedTenant(
  stores: Pick<Stores, 'destinations'>,
  sim: Pick<SimulatedTenant, 'destinations'>,
): Promise<void> {
  for (const d of sim.destinations)
    await stores.destinations.allow(d.kind, d.entry, 'the simulated tenant (demo, tests)');
}

export async function startInProcessEngine(o: {
  sim: SimulatedTenant;
  stores: Stores;
  db: Db;
  redis: RedisSettings;
  logger: Logger;
  /** The process settings (default: the defaults); WinRM is plain HTTP to the simulated proxies. */
  settings?: Settings;
}): Promise<InProcessEngine> {
  const settings = o.settings ?? DEFAULT_SETTINGS;
  await allowSimulatedTenant(o.stores, o.sim);
  const fullPull = createFullPull({
    stores: o.stores,
    graph: { ca: o.sim.ca },
    // The simulated proxies speak plain HTTP (the documented Basic + AllowUnencrypted set-up).
    winrm: { scheme: 'http', affinityKey: 'in-process-worker' },
    logger: o.logger,
    settings,
  });
  const worker = await startWorker({
    redis: o.redis,
    db: o.db,
    processor: fullPull.processor,
    settings: workerSettings(settings),
    queueSettings: syncQueueSettings(settings),
    deleteThresholds: globalDeleteThresholds(settings),
    triggers: false,
    logger: o.logger,
  });
  const queue = createSyncQueue(o.redis);
  return {
    queue,
    async close() {
      await worker.close(5000);
      await fullPull.close();
      await queue.close();
    },
  };
}
