/**
 * `npm run demo`: the main job, on the built-in simulated tenant. Starts the simulators (Graph and two
 * PowerShell proxies over one generated tenant), registers the demo tenant, enqueues a full pull,
 * runs a worker, shows progress, and prints what landed in MongoDB per kind with the run's timings.
 * Each run is a new night: from the second run on, the simulated tenant has changed (users joined,
 * left and were renamed; a policy was deleted), so the run shows its change counts. From the second
 * night on, a delta run lands the night's Entra changes first (docs/delta.md), minutes after they
 * happen in a real tenant, and the nightly full pull then reconciles everything.
 */
import { SingleBar } from 'cli-progress';
import { connectMongo, keyRingOf, openStores } from '../connectors/mongo/index.js';
import { ENTITY_KINDS } from '../domain/entity-kinds.js';
import { SyncError } from '../domain/errors.js';
import { globalDeleteThresholds } from '../domain/delete-protection.js';
import { parseSettings } from '../domain/settings.js';
import { planKinds, syncPlan } from '../domain/sync-plan.js';
import { createLogger } from '../observability/logger.js';
import { redisSettings } from '../queues/connection.js';
import { requestSync } from '../operations/index.js';
import { waitForRun, type SyncProgress } from '../queues/sync-queue.js';
import { changeDataset, generateDataset } from '../simulators/dataset.js';
import { startSimulatedTenant } from '../simulators/m365.js';
import { startInProcessEngine } from './in-process.js';
import { runSummary } from './commands/sync.js';
import { table } from './commands/tenants.js';

// The demo's own defaults under the environment: its own queue prefix, and quiet logs (the simulated
// proxies speak plain HTTP, which the WinRM connector rightly warns about).
const settings = parseSettings({
  M365SYNC_QUEUE_PREFIX: 'm365sync-demo',
  LOG_LEVEL: 'error',
  ...process.env,
});
const USERS = settings.DEMO_USERS;
const logger = createLogger({ level: settings.LOG_LEVEL });
const keyRing = keyRingOf(settings);
const mongo = await connectMongo(settings);
const redis = redisSettings(settings);
const stores = await openStores(mongo.db, keyRing, { deleteThresholds: globalDeleteThresholds(settings) });
const { runs } = stores;

const existing = (await stores.tenants.list({ hierarchy: 'demo.provider.contoso' }))[0];
const night = existing
  ? (await runs.list({ tenantId: existing.id, limit: 1000 })).filter((r) => r.status !== 'queued').length
  : 0;
const base = generateDataset({ seed: 1, users: USERS });
const nightOf = (n: number) =>
  n === 0
    ? base
    : changeDataset(base, { addUsers: 7 * n, removeUsers: 5 * n, renameUsers: 3 * n, removePolicies: 1 }, n);
const dataset = nightOf(night);

console.log(`Starting the simulated tenant (${dataset.users.length} users; night ${night + 1})…`);
// From the second night on the simulator starts as the tenant was last night, and changes once the
// delta state is caught up, so the delta run has a night's changes to land.
const sim = await startSimulatedTenant({
  dataset: night === 0 ? dataset : nightOf(night - 1),
  proxies: 2,
  enableExchange: true,
});
const engine = await startInProcessEngine({ sim, stores, db: mongo.db, redis, logger, settings });
const queue = engine.queue;

try {
  // The simulators listen on new ports each time: keep the tenant's connection pointing at them.
  const tenant = existing
    ? await stores.tenants.update(existing.id, sim.tenantInput)
    : await stores.tenants.add(sim.tenantInput);
  console.log(
    `Demo tenant ${tenant.hierarchy}/${tenant.Tenant.name} (id ${tenant.id}); PowerShell proxies ${tenant['Microsoft Teams Powershell'].hostName}`,
  );

  const deps = { queue, stores, settings };
  if (night > 0) await deltaNight(tenant);
  const enqueued = await requestSync(deps, { tenant, trigger: 'cli', requestedBy: 'npm run demo' });
  console.log(`Enqueued a full pull (job ${enqueued.jobId}); a worker is running it:\n`);
  const total = planKinds(syncPlan(tenant)).length;
  const bar = new SingleBar({
    format: ' {bar} {value}/{total} kinds | {kind}: {objects} objects',
    hideCursor: true,
  });
  bar.start(total, 0, { kind: '-', objects: 0 });
  const done = new Set<string>();
  const end = await waitForRun(queue, enqueued.jobId, {
    tenantId: tenant.id,
    pollMs: 200,
    onProgress: (progress) => {
      const p = progress as SyncProgress | null;
      if (!p?.kind) return;
      if (p.phase === 'kind-done' || p.phase === 'kind-failed') done.add(p.kind);
      bar.update(done.size, { kind: p.kind, objects: p.objects });
    },
  });
  bar.update(done.size);
  bar.stop();
  if (end.state === 'failed') throw new Error(`the sync failed: ${end.reason}`);
  const run = await runs.get((end.result as { runId: string }).runId);
  console.log(`\n${run ? runSummary(run) : 'no run record'}\n`);

  const counts = await stores.objects.countByKind(tenant.id);
  console.log(`What MongoDB (${mongo.db.databaseName}) holds for the tenant now:\n`);
  console.log(
    table(
      ['COLLECTION', 'DOCUMENTS'],
      ENTITY_KINDS.map((k) => [k.collection, String(counts[k.kind] ?? 0)]),
    ),
  );
  console.log(
    '\nRun `npm run demo` again: the simulated tenant changes each time, and the run shows what changed.',
  );
  if (run?.status !== 'succeeded') process.exitCode = 1;

  /**
   * The second night on: a delta run catches up with this simulator (its change log starts empty each
   * demo run, so it pulls users and groups in full once), the tenant changes, and a delta run lands
   * exactly the Entra changes, before the nightly full pull.
   */
  async function deltaNight(t: typeof tenant) {
    const deltaRun = async (what: string) => {
      const { jobId } = await requestSync(deps, {
        tenant: t,
        trigger: 'cli',
        requestedBy: 'npm run demo',
        mode: 'delta',
      });
      const ended = await waitForRun(queue, jobId, { tenantId: t.id, mode: 'delta', pollMs: 200 });
      if (ended.state === 'failed') throw new Error(`the delta run failed: ${ended.reason}`);
      const deltaRecord = await runs.get((ended.result as { runId: string }).runId);
      console.log(`${what}:\n${deltaRecord ? runSummary(deltaRecord) : 'no run record'}\n`);
    };
    await deltaRun('A delta run catches up with the new simulator (its change log starts empty)');
    sim.setDataset(dataset);
    console.log('The tenant changed overnight (users joined, left, were renamed).\n');
    await deltaRun('A delta run lands the Entra changes, minutes after they happen');
  }
} catch (error) {
  console.error(error instanceof SyncError ? `demo failed (${error.code}): ${error.message}` : error);
  process.exitCode = 1;
} finally {
  await engine.close();
  await sim.close();
  await mongo.close();
}
