/**
 * A real sync worker in its own process for the fault suite: the production wiring (connectMongo with
 * its timeouts, the stores, the full pull, startWorkerWithUpkeep) configured only by the environment:
 * MONGODB_URI, M365SYNC_DB, M365SYNC_ENCRYPTION_KEYS, REDIS_URL, M365SYNC_QUEUE_PREFIX, the SYNC_* and
 * MONGODB_* variables, FAULT_GRAPH_CA_FILE (the simulator's CA) and FAULT_WORKER_ID. Prints "ready".
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { connectMongo } from '../../../connectors/mongo/connection.js';
import { keyRingOf } from '../../../connectors/mongo/encryption.js';
import { createLogger } from '../../../observability/logger.js';
import { redisSettings } from '../../../queues/connection.js';
import { syncQueueSettings } from '../../../queues/sync-queue.js';
import { openStores } from '../../../connectors/mongo/stores.js';
import { createFullPull } from '../../../workers/full-pull.js';
import { startWorkerWithUpkeep, workerSettings } from '../../../workers/worker.js';
import { parseSettings } from '../../../domain/settings.js';

const env = process.env;
const settings = parseSettings(env);
// On stdout, which the fault engine writes to FAULT_LOG_DIR (the CLI's logger writes to stderr).
const logger = createLogger({ level: env.FAULT_LOG_LEVEL ?? 'silent', destination: pino.destination(1) });
const mongo = await connectMongo(settings);
const stores = await openStores(mongo.db, keyRingOf(settings));
const redis = redisSettings(settings);
const fullPull = createFullPull({
  stores,
  graph: { ca: readFileSync(env.FAULT_GRAPH_CA_FILE!, 'utf8'), limiter: { keyPrefix: redis.prefix } },
  winrm: { scheme: 'http', affinityKey: redis.prefix },
  logger,
});
const worker = await startWorkerWithUpkeep({
  redis,
  db: mongo.db,
  processor: fullPull.processor,
  settings: workerSettings(settings),
  queueSettings: syncQueueSettings(settings),
  workerId: env.FAULT_WORKER_ID ?? `fault-${process.pid}`,
  logger,
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void worker.close(500).then(async () => {
    fullPull.close();
    await mongo.close();
    process.exit(0);
  });
});
