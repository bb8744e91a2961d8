/**
 * Full-pull benchmark: one whole sync of a simulated tenant of N users (Graph, Teams and Exchange over
 * two simulated PowerShell proxies) through the real queue, worker and MongoDB-wire server, first
 * run (all created) and second run (all unchanged). Prints wall time, objects per second and peak RSS.
 *
 *   npx tsx bench/full-pull.ts [users=2000]
 */
import { parseSettings } from '../domain/settings.js';
import { randomBytes } from 'node:crypto';
import { connectMongo } from '../connectors/mongo/connection.js';
import { createKeyRing } from '../connectors/mongo/encryption.js';
import { createLogger } from '../observability/logger.js';
import { redisSettings } from '../queues/connection.js';
import { addSyncJob, prepareSync, waitForRun } from '../queues/sync-queue.js';
import { startSimulatedTenant } from '../simulators/m365.js';
import { startInProcessEngine } from '../cli/in-process.js';
import { openStores } from '../connectors/mongo/stores.js';

const users = Number(process.argv[2] ?? 2000);
const logger = createLogger({ level: 'error' });
const name = `bench_${randomBytes(3).toString('hex')}`;
const settings = parseSettings({ ...process.env, M365SYNC_DB: name, M365SYNC_QUEUE_PREFIX: name });
const mongo = await connectMongo(settings);
const redis = redisSettings(settings);
const stores = await openStores(mongo.db, createKeyRing(new Map([['bench', randomBytes(32)]])));
const sim = await startSimulatedTenant({ dataset: { seed: 5, users }, enableExchange: true });
const engine = await startInProcessEngine({ sim, stores, db: mongo.db, redis, logger, settings });
const queue = engine.queue;
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const tenant = await stores.tenants.add(sim.tenantInput);
  const server = (await mongo.db.admin().command({ buildInfo: 1 })).ferretdbVersion ? 'FerretDB' : 'MongoDB';
  console.log(
    `full pull of ${users} users (${server}, 2 simulated PowerShell proxies), baseline RSS ${mb(peakRss)} MB`,
  );
  for (const label of ['first run (created)', 'second run (unchanged)']) {
    const started = performance.now();
    const request = { tenantId: tenant.id, trigger: 'cli' as const, requestedBy: 'bench' };
    const { jobId } = await addSyncJob(queue, await prepareSync(queue, request));
    const end = await waitForRun(queue, jobId, { pollMs: 100 });
    const seconds = (performance.now() - started) / 1000;
    const run =
      end.state === 'completed' ? await stores.runs.get((end.result as { runId: string }).runId) : null;
    const objects = Object.values(run?.kinds ?? {}).reduce(
      (n, k) => n + k.created + k.updated + k.unchanged,
      0,
    );
    const slowest = Object.entries(run?.kinds ?? {}).sort((a, b) => b[1].durationMs - a[1].durationMs)[0];
    console.log(
      `  ${label}: ${run?.status ?? end.state} in ${seconds.toFixed(1)} s, ${objects} objects, ${(objects / seconds).toFixed(0)} objects/s, ` +
        `slowest kind ${slowest?.[0]} ${((slowest?.[1].durationMs ?? 0) / 1000).toFixed(1)} s, peak RSS ${mb(peakRss)} MB`,
    );
    for (const [kind, k] of Object.entries(run?.kinds ?? {}))
      if (k.error) console.log(`    ${kind} ${k.status}: ${k.error.code} ${k.error.message}`);
  }
} finally {
  clearInterval(sampler);
  await queue.obliterate({ force: true }).catch(() => {});
  await engine.close();
  await sim.close();
  await mongo.db.dropDatabase();
  await mongo.close();
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
