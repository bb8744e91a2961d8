/**
 * Delta schedules with real Redis (BullMQ job schedulers) and the MongoDB-wire server: which tenants
 * get one (Graph credentials, M365SYNC_DELTA, SCHEDULE_DELTA_MINUTES, the per-tenant override), how a
 * reconcile creates, changes and removes them beside the nightly ones, where in its interval a tenant
 * fires, and what a firing does through the trigger worker: a delta sync job, or, while a full pull of
 * the tenant runs or waits, a quiet skip (no run record, no failed trigger, a metric).
 */
import type { Job, JobSchedulerJson, Queue, Worker } from 'bullmq';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { buildStores, openStores, type Stores } from '../../connectors/mongo/stores.js';
import { registry } from '../../observability/metrics.js';
import { requestSync } from '../../operations/request-sync.js';
import { DELTA_TRIGGER_JOB, deltaSchedulerId, effectiveDeltaSchedule } from '../../queues/delta-schedules.js';
import {
  createTriggerQueue,
  reconcileSchedules,
  reconcileTenantSchedule,
  schedulerId,
  spreadOffsetSeconds,
  type ScheduleSettings,
} from '../../queues/schedules.js';
import { clearSchedule, setSchedule, showSchedule } from '../../operations/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { startTriggerWorker } from '../../workers/trigger-worker.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { storeBackends, testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually, quietLogger } from '../workers/support/harness.js';
import { settingsFor } from './support/schedule-settings.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

const base: ScheduleSettings = {
  tz: 'UTC',
  windowStartMinute: 60,
  windowMinutes: 240,
  deltaEnabled: true,
  deltaMinutes: 15,
};
const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
const THUMBPRINT = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';

/** A tenant document as stored, with the given Microsoft 365 group (or none). */
const tenantDoc = (m365?: Record<string, unknown>) => ({
  _id: new ObjectId(),
  hierarchy: 'p.delta',
  Tenant: { name: `t-${new ObjectId().toHexString()}` },
  ...(m365 ? { 'Microsoft 365': m365 } : {}),
});

describe('a delta schedule', () => {
  it('is on where the tenant has Graph credentials, unless the installation, the interval or the override says no', () => {
    const id = new ObjectId().toHexString();
    const on = effectiveDeltaSchedule(id, null, base, true);
    expect(on).toEqual({
      enabled: true,
      everyMinutes: 15,
      source: 'default',
      offsetSeconds: spreadOffsetSeconds(id, 15),
    });
    const off = (override: Parameters<typeof effectiveDeltaSchedule>[1], s = base, creds = true) =>
      effectiveDeltaSchedule(id, override, s, creds).off;
    expect(off(null, base, false)).toBe('no_graph_credentials');
    expect(off(null, { ...base, deltaEnabled: false })).toBe('installation_off');
    // The installation's switch wins over an override's interval.
    expect(off({ enabled: true, deltaMinutes: 5 }, { ...base, deltaEnabled: false })).toBe(
      'installation_off',
    );
    expect(off({ enabled: false })).toBe('schedule_disabled');
    expect(off({ enabled: true, deltaMinutes: 0 })).toBe('override');
    expect(off(null, { ...base, deltaMinutes: 0 })).toBe('no_interval');
    // With no default interval, a tenant's own interval still gives it delta runs.
    expect(
      effectiveDeltaSchedule(id, { enabled: true, deltaMinutes: 5 }, { ...base, deltaMinutes: 0 }, true),
    ).toEqual({
      enabled: true,
      everyMinutes: 5,
      source: 'override',
      offsetSeconds: spreadOffsetSeconds(id, 5),
    });
  });

  it('spreads a thousand tenants over the interval, each at a stable phase', () => {
    const ids = Array.from({ length: 1000 }, (_, i) =>
      new ObjectId(i.toString(16).padStart(24, '0')).toHexString(),
    );
    for (const minutes of [15, 7, 90]) {
      const offsets = ids.map(
        (id) => effectiveDeltaSchedule(id, null, { ...base, deltaMinutes: minutes }, true).offsetSeconds!,
      );
      expect(offsets.every((o) => o >= 0 && o < minutes * 60)).toBe(true);
      expect(offsets).toEqual(ids.map((id) => spreadOffsetSeconds(id, minutes)));
      // Each fifth of the interval gets a fair share (200 expected).
      for (let f = 0; f < 5; f++) {
        const n = offsets.filter((o) => Math.floor((o * 5) / (minutes * 60)) === f).length;
        expect(n, `${minutes} min, fifth ${f}`).toBeGreaterThan(150);
      }
    }
  });
});

describe.each(storeBackends())('tenants with Graph credentials ($name)', ({ uri }) => {
  let mongo: TestMongo;
  beforeAll(async () => {
    mongo = await testMongo('graphcreds', uri);
  });
  afterAll(async () => mongo?.close());

  it('are those with a client id and a client secret or a stored certificate; only ids are read', async () => {
    const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k') }));
    await allowFixtureDestinations(stores.destinations);
    // Through the store: the secret is stored encrypted (an object), as in production.
    const withSecret = (await stores.tenants.add(validTenantInput({ Tenant: { name: 'With Secret' } }))).id;
    const docs = {
      certificate: tenantDoc({
        client_id: CLIENT_ID,
        graph_api_certificate_thumbprint: THUMBPRINT,
        certificate_bkey: 'app',
      }),
      thumbprintOnly: tenantDoc({ client_id: CLIENT_ID, graph_api_certificate_thumbprint: THUMBPRINT }),
      clientIdOnly: tenantDoc({ client_id: CLIENT_ID }),
      blankSecret: tenantDoc({ client_id: CLIENT_ID, client_secret: '' }),
      nullClientId: tenantDoc({ client_id: null, client_secret: 'x' }),
      none: tenantDoc(),
    };
    await mongo.db.collection('tenants').insertMany(Object.values(docs));
    const has = buildStores(mongo.db).tenants; // as the scheduler opens them: no key
    expect([...(await has.withGraphCredentials())].sort()).toEqual(
      [withSecret, docs.certificate._id.toHexString()].sort(),
    );
    expect([
      ...(await has.withGraphCredentials([withSecret, docs.none._id.toHexString(), 'not-an-id'])),
    ]).toEqual([withSecret]);
    expect(await has.withGraphCredentials([])).toEqual(new Set());
  });
});

describe('delta schedulers', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue;
  let stores: Stores;
  beforeAll(async () => {
    redis = await testRedis('deltasched');
    mongo = await testMongo('deltasched');
    queue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
    stores = buildStores(mongo.db);
  });
  afterAll(async () => {
    await queue?.close();
    await redis?.close();
    await mongo?.close();
  });

  const tenants = () => mongo.db.collection<ReturnType<typeof tenantDoc>>('tenants');
  const withSecret = () => tenantDoc({ client_id: CLIENT_ID, client_secret: { alg: 'A256GCM', keyId: 'k' } });
  const schedulers = async () =>
    new Map(
      ((await queue.getJobSchedulers(0, -1, true)) as JobSchedulerJson[]).map((s) => [s.key, s] as const),
    );
  const deltaKeys = async () => [...(await schedulers()).keys()].filter((k) => k.startsWith('delta-')).sort();
  const sorted = (...ids: string[]) => ids.sort();

  it('are reconciled with the settings, the credentials, the overrides and the tenants', async () => {
    const a = withSecret();
    const b = tenantDoc({
      client_id: CLIENT_ID,
      graph_api_certificate_thumbprint: THUMBPRINT,
      certificate_bkey: 'app',
    });
    const c = tenantDoc({ client_id: CLIENT_ID });
    const d = tenantDoc();
    await tenants().insertMany([a, b, c, d]);
    const [A, B, C, D] = [a, b, c, d].map((t) => t._id.toHexString()) as [string, string, string, string];

    const before = Date.now();
    const first = await reconcileSchedules(queue, stores, base);
    const after = Date.now();
    expect(first.created.sort()).toEqual(sorted(A, B, C, D));
    expect(first.delta).toEqual({
      created: sorted(A, B),
      updated: [],
      unchanged: 0,
      removed: [],
      failed: [],
    });
    const all = await schedulers();
    for (const id of [A, B]) {
      const s = all.get(deltaSchedulerId(id))!;
      const every = 15 * 60_000;
      const offset = spreadOffsetSeconds(id, 15) * 1000 || every;
      expect(s).toMatchObject({
        name: DELTA_TRIGGER_JOB,
        every,
        offset,
        template: { data: { tenantId: id, mode: 'delta' } },
      });
      expect(s.pattern).toBeFalsy();
      // The next firing is the tenant's phase in the coming interval: not now, not later than one interval.
      expect(s.next!).toBeGreaterThan(before);
      expect(s.next!).toBeLessThanOrEqual(after + every);
      expect((s.next! - offset) % every).toBe(0);
    }
    // Nothing fires at creation: one delayed job per scheduler, none waiting.
    expect(await queue.getJobCounts('waiting', 'prioritized', 'delayed')).toEqual({
      waiting: 0,
      prioritized: 0,
      delayed: 6,
    });

    const again = await reconcileSchedules(queue, stores, base);
    expect(again).toMatchObject({ created: [], updated: [], removed: [], unchanged: 4 });
    expect(again.delta).toEqual({ created: [], updated: [], unchanged: 2, removed: [], failed: [] });

    // Another interval changes the delta schedulers only.
    const slower = { ...base, deltaMinutes: 30 };
    const changed = await reconcileSchedules(queue, stores, slower);
    expect(changed).toMatchObject({ updated: [], unchanged: 4 });
    expect(changed.delta).toMatchObject({ updated: sorted(A, B), unchanged: 0 });
    expect((await schedulers()).get(deltaSchedulerId(A))).toMatchObject({ every: 30 * 60_000 });

    // M365SYNC_DELTA=false removes every delta scheduler and leaves the nightly ones.
    const off = await reconcileSchedules(queue, stores, { ...slower, deltaEnabled: false });
    expect(off).toMatchObject({ removed: [], unchanged: 4 });
    expect(off.delta.removed.sort()).toEqual(sorted(A, B));
    expect(await deltaKeys()).toEqual([]);
    expect((await schedulers()).has(schedulerId(A))).toBe(true);

    // SCHEDULE_DELTA_MINUTES=0: none by default, but a tenant's own interval gives it one.
    const none = { ...base, deltaMinutes: 0 };
    expect((await reconcileSchedules(queue, stores, none)).delta.created).toEqual([]);
    const own = await setSchedule(
      { stores: stores, triggers: queue, settings: settingsFor(none) },
      { tenantId: A, schedule: { deltaMinutes: 5 } },
    );
    expect(own.delta).toMatchObject({ enabled: true, everyMinutes: 5, source: 'override', active: true });
    expect(own.delta.next!.getTime()).toBe((await schedulers()).get(deltaSchedulerId(A))!.next);
    expect(own).toMatchObject({ source: 'override', active: true }); // the nightly one stays
    expect((await reconcileSchedules(queue, stores, none)).delta).toMatchObject({
      unchanged: 1,
      removed: [],
    });
    expect(
      (await showSchedule({ stores: stores, triggers: queue, settings: settingsFor(none) }, { tenantId: B }))
        .delta,
    ).toEqual({
      enabled: false,
      everyMinutes: 0,
      source: 'default',
      off: 'no_interval',
      active: false,
    });

    // Back to the default interval: B gets its scheduler again, A keeps its own.
    expect((await reconcileSchedules(queue, stores, base)).delta).toMatchObject({
      created: [B],
      unchanged: 1,
    });
    expect((await schedulers()).get(deltaSchedulerId(A))).toMatchObject({ every: 5 * 60_000 });

    // The override turns delta runs off (0), or every schedule (enabled: false); clearing restores both.
    const noDelta = await setSchedule(
      { stores: stores, triggers: queue, settings: settingsFor(base) },
      { tenantId: A, schedule: { deltaMinutes: 0 } },
    );
    expect(noDelta.delta).toMatchObject({ enabled: false, off: 'override', active: false });
    expect(noDelta).toMatchObject({ enabled: true, active: true });
    expect(await deltaKeys()).toEqual([deltaSchedulerId(B)]);
    const disabled = await setSchedule(
      { stores: stores, triggers: queue, settings: settingsFor(base) },
      { tenantId: A, schedule: { enabled: false } },
    );
    expect(disabled).toMatchObject({ active: false, delta: { off: 'schedule_disabled', active: false } });
    const cleared = await clearSchedule(
      { stores: stores, triggers: queue, settings: settingsFor(base) },
      { tenantId: A },
    );
    expect(cleared).toMatchObject({
      active: true,
      delta: { enabled: true, everyMinutes: 15, source: 'default', active: true },
    });
    expect(await reconcileSchedules(queue, stores, base)).toMatchObject({
      unchanged: 4,
      delta: { unchanged: 2, created: [], updated: [], removed: [] },
    });

    // Credentials gone: the delta scheduler goes; the tenant deleted: both go.
    await tenants().updateOne({ _id: b._id }, { $unset: { 'Microsoft 365.certificate_bkey': '' } });
    expect((await reconcileSchedules(queue, stores, base)).delta.removed).toEqual([B]);
    expect(
      (await showSchedule({ stores: stores, triggers: queue, settings: settingsFor(base) }, { tenantId: B }))
        .delta,
    ).toMatchObject({
      off: 'no_graph_credentials',
      active: false,
    });
    await tenants().deleteOne({ _id: a._id });
    const gone = await reconcileSchedules(queue, stores, base);
    expect(gone.removed).toEqual([A]);
    expect(gone.delta.removed).toEqual([A]);
    expect(await deltaKeys()).toEqual([]);
    expect((await schedulers()).size).toBe(3);

    // One tenant at once (after `schedule set`, or a tenant added): both of its schedulers.
    const e = withSecret();
    await tenants().insertOne(e);
    const E = e._id.toHexString();
    expect(await reconcileTenantSchedule(queue, stores, E, base)).toEqual({
      nightly: 'created',
      delta: 'created',
    });
    expect(await reconcileTenantSchedule(queue, stores, E, base)).toEqual({
      nightly: 'unchanged',
      delta: 'unchanged',
    });
    await tenants().deleteOne({ _id: e._id });
    expect(await reconcileTenantSchedule(queue, stores, E, base)).toEqual({
      nightly: 'removed',
      delta: 'removed',
    });
    await tenants().deleteMany({});
    await reconcileSchedules(queue, stores, base);
  });

  describe('firings, through the trigger worker', () => {
    let syncQueue: Queue<SyncJobData, unknown, string>;
    let triggers: Worker | undefined;
    const runStores = () => buildStores(mongo.db);
    beforeAll(() => {
      syncQueue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    });
    afterAll(async () => {
      await triggers?.close();
      await syncQueue?.close();
    });

    const startTriggers = async (deltaEnabled?: boolean) => {
      await triggers?.close();
      triggers = startTriggerWorker({ url: redis.url, prefix: redis.prefix }, quietLogger, runStores(), {
        ...(deltaEnabled === undefined
          ? {}
          : { settings: { ...DEFAULT_SETTINGS, M365SYNC_DELTA: deltaEnabled } }),
      });
    };

    /**
     * A tenant with credentials and its reconciled schedulers, whose first delta slot is at least five
     * minutes away: no firing comes by itself during the test, only the one it makes.
     */
    const scheduledTenant = async () => {
      const every = base.deltaMinutes * 60_000;
      const away = (id: string) => {
        const offset = spreadOffsetSeconds(id, base.deltaMinutes) * 1000;
        return (offset - (Date.now() % every) + every) % every;
      };
      let t = withSecret();
      while (away(t._id.toHexString()) < 5 * 60_000) t = withSecret();
      await tenants().insertOne(t);
      const id = t._id.toHexString();
      await reconcileTenantSchedule(queue, stores, id, base);
      return id;
    };

    /** Fires the tenant's delta scheduler now (its waiting next job, promoted) and waits for the trigger's end. */
    const fire = async (tenantId: string): Promise<Job> => {
      const delayed = await queue.getJobs(['delayed']);
      const next = delayed.find((j) => j.name === DELTA_TRIGGER_JOB && j.data.tenantId === tenantId);
      expect(next, 'the delta scheduler has its next firing waiting').toBeDefined();
      await next!.promote();
      return eventually(async () => {
        const state = await queue.getJobState(next!.id!);
        return state === 'completed' || state === 'failed' ? (await queue.getJob(next!.id!))! : undefined;
      }, 30_000);
    };

    const skipped = async (reason: string) => {
      const metric = await registry.getSingleMetric('m365sync_scheduled_delta_skipped_total')?.get();
      return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
    };

    it('a firing requests a delta run of the tenant, and the scheduler waits for its next interval', async () => {
      await startTriggers();
      const tenantId = await scheduledTenant();
      const planned = (await queue.getJobScheduler(deltaSchedulerId(tenantId)))!.next!;
      const job = await fire(tenantId);
      expect(await job.getState()).toBe('completed');
      expect(job.returnvalue).toMatchObject({ outcome: 'created' });
      const jobs = (await syncQueue.getJobs(['waiting', 'prioritized'])).filter(
        (j) => j.data.tenantId === tenantId,
      );
      expect(jobs.map((j) => j.data)).toEqual([
        { tenantId, trigger: 'schedule', requestedBy: 'scheduler', mode: 'delta', runId: jobs[0]!.id },
      ]);
      const runs = await runStores().runs.list({ tenantId });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        status: 'queued',
        mode: 'delta',
        trigger: 'schedule',
        requestedBy: 'scheduler',
      });
      // The scheduler goes on: its next firing is one interval after the one that fired.
      const every = 15 * 60_000;
      await eventually(
        async () => (await queue.getJobScheduler(deltaSchedulerId(tenantId)))?.next === planned + every,
      );
      const next = (await queue.getJobs(['delayed'])).filter(
        (j) => j.name === DELTA_TRIGGER_JOB && j.data.tenantId === tenantId,
      );
      expect(next).toHaveLength(1);
    });

    it('while a full pull of the tenant waits, a firing is skipped quietly: no run record, no failure', async () => {
      await startTriggers();
      const tenantId = await scheduledTenant();
      const full = await requestSync(
        { queue: syncQueue, stores: runStores(), settings: DEFAULT_SETTINGS },
        { tenant: { id: tenantId, hierarchy: 'p.delta' }, trigger: 'operator', requestedBy: 'op' },
      );
      const before = await skipped('full_pull');
      const failedBefore = (await queue.getJobCounts('failed')).failed;
      const job = await fire(tenantId);
      expect(await job.getState()).toBe('completed');
      expect(job.returnvalue).toEqual({ skipped: 'full_pull' });
      expect(job.attemptsMade).toBeLessThanOrEqual(1);
      expect((await queue.getJobCounts('failed')).failed).toBe(failedBefore);
      expect(await skipped('full_pull')).toBe(before + 1);
      // Only the full pull is queued, and only its request is recorded.
      const jobs = (await syncQueue.getJobs(['waiting', 'prioritized'])).filter(
        (j) => j.data.tenantId === tenantId,
      );
      expect(jobs.map((j) => j.id)).toEqual([full.jobId]);
      expect((await runStores().runs.list({ tenantId })).map((r) => r.id)).toEqual([full.runId]);
    });

    it('with M365SYNC_DELTA off in the worker, a firing is skipped quietly too', async () => {
      await startTriggers(false);
      const tenantId = await scheduledTenant();
      const before = await skipped('delta_off');
      const job = await fire(tenantId);
      expect(job.returnvalue).toEqual({ skipped: 'delta_off' });
      expect(await skipped('delta_off')).toBe(before + 1);
      expect(
        (await syncQueue.getJobs(['waiting', 'prioritized'])).filter((j) => j.data.tenantId === tenantId),
      ).toEqual([]);
      expect(await runStores().runs.list({ tenantId })).toEqual([]);
    });
  });
});
