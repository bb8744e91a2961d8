import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { ObjectId } from 'mongodb';
import { ValidationError } from '../../domain/errors.js';
import { LeaderLock } from '../../queues/leader-lock.js';
import {
  createTriggerQueue,
  defaultPattern,
  reconcileSchedules,
  scheduleSettings,
  spreadOffsetSeconds,
  type ScheduleSettings,
} from '../../queues/schedules.js';
import { clearSchedule, setSchedule, showSchedule } from '../../operations/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { startScheduler } from '../../workers/scheduler.js';
import { startTriggerWorker } from '../../workers/trigger-worker.js';
import { buildStores } from '../../connectors/mongo/stores.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually, quietLogger } from '../workers/support/harness.js';
import { parseSettings, DEFAULT_SETTINGS } from '../../domain/settings.js';
import { settingsFor } from './support/schedule-settings.js';

const settings: ScheduleSettings = {
  tz: 'UTC',
  windowStartMinute: 60,
  windowMinutes: 240,
  deltaEnabled: true,
  deltaMinutes: 15,
};

describe('nightly schedules', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue;
  beforeAll(async () => {
    redis = await testRedis('schedules');
    mongo = await testMongo('schedules');
    queue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
  });
  afterAll(async () => {
    await queue.close();
    await redis.close();
    await mongo.close();
  });

  const tenants = () => mongo.db.collection<{ _id: ObjectId; hierarchy: string }>('tenants');
  const snapshot = async () =>
    (await queue.getJobSchedulers(0, -1, true)).map((s) => ({
      key: s.key,
      pattern: s.pattern,
      tz: s.tz,
      next: s.next,
    }));

  it('spreads tenants over the window with stable offsets', () => {
    const ids = Array.from({ length: 1000 }, (_, i) =>
      new ObjectId(i.toString(16).padStart(24, '0')).toHexString(),
    );
    const offsets = ids.map((id) => spreadOffsetSeconds(id, 240));
    expect(offsets).toEqual(ids.map((id) => spreadOffsetSeconds(id, 240)));
    expect(offsets.every((o) => o >= 0 && o < 240 * 60)).toBe(true);
    // A thousand tenants do not start together: no second holds more than a few.
    const perSecond = new Map<number, number>();
    for (const o of offsets) perSecond.set(o, (perSecond.get(o) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4);
    // Each hour of the window gets a fair share.
    for (let h = 0; h < 4; h++) {
      const n = offsets.filter((o) => Math.floor(o / 3600) === h).length;
      expect(n).toBeGreaterThan(180);
    }
    // Known value, so a change of the hash (which would move every tenant) is noticed.
    expect(spreadOffsetSeconds('64b7f0c2a1b2c3d4e5f60718', 240)).toBe(8211);
    const p = defaultPattern('64b7f0c2a1b2c3d4e5f60718', settings).split(' ');
    const o = spreadOffsetSeconds('64b7f0c2a1b2c3d4e5f60718', 240);
    expect(Number(p[0])).toBe(o % 60);
    expect(Number(p[2]) * 60 + Number(p[1])).toBe(60 + Math.floor(o / 60));
    expect(scheduleSettings(parseSettings({}))).toEqual({
      tz: 'UTC',
      windowStartMinute: 60,
      windowMinutes: 240,
      deltaEnabled: true,
      deltaMinutes: 15,
    });
  });

  it('creates, changes and removes schedulers with the tenants, and reconciling twice changes nothing', async () => {
    const a = new ObjectId();
    const b = new ObjectId();
    await tenants().insertMany([
      { _id: a, hierarchy: 'p.a' },
      { _id: b, hierarchy: 'p.b' },
    ]);
    const first = await reconcileSchedules(queue, buildStores(mongo.db), settings);
    expect(first.created.sort()).toEqual([a.toHexString(), b.toHexString()].sort());
    const before = await snapshot();
    expect(before).toHaveLength(2);
    expect(before.every((s) => s.tz === 'UTC' && (s.next ?? 0) > Date.now())).toBe(true);
    // No job fires at creation: the only jobs are the one delayed job per scheduler.
    expect(await queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 2 });

    const again = await reconcileSchedules(queue, buildStores(mongo.db), settings);
    expect(again).toEqual({
      created: [],
      updated: [],
      unchanged: 2,
      removed: [],
      failed: [],
      // These tenants have no Graph credentials: no delta schedulers.
      delta: { created: [], updated: [], unchanged: 0, removed: [], failed: [] },
    });
    expect(await snapshot()).toEqual(before);
    expect(await queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 2 });

    // An override changes one tenant's scheduler; disabling or deleting a tenant removes it.
    const view = await setSchedule(
      { stores: buildStores(mongo.db), triggers: queue, settings: DEFAULT_SETTINGS },
      {
        tenantId: a.toHexString(),
        schedule: {
          pattern: '30 3 * * *',
          tz: 'Europe/London',
        },
      },
    );
    expect(view).toMatchObject({
      pattern: '30 3 * * *',
      tz: 'Europe/London',
      source: 'override',
      active: true,
    });
    expect(await reconcileSchedules(queue, buildStores(mongo.db), settings)).toMatchObject({
      updated: [],
      unchanged: 2,
    });
    await setSchedule(
      { stores: buildStores(mongo.db), triggers: queue, settings: DEFAULT_SETTINGS },
      { tenantId: b.toHexString(), schedule: { enabled: false } },
    );
    expect(
      (
        await showSchedule(
          { stores: buildStores(mongo.db), triggers: queue, settings: settingsFor(settings) },
          { tenantId: b.toHexString() },
        )
      ).active,
    ).toBe(false);
    await clearSchedule(
      { stores: buildStores(mongo.db), triggers: queue, settings: settingsFor(settings) },
      { tenantId: b.toHexString() },
    );
    expect(
      (
        await showSchedule(
          { stores: buildStores(mongo.db), triggers: queue, settings: settingsFor(settings) },
          { tenantId: b.toHexString() },
        )
      ).active,
    ).toBe(true);

    await tenants().deleteOne({ _id: b });
    const third = await reconcileSchedules(queue, buildStores(mongo.db), settings);
    expect(third).toMatchObject({ removed: [b.toHexString()], unchanged: 1 });
    expect((await snapshot()).map((s) => s.key)).toEqual([`tenant-${a.toHexString()}`]);
    expect(await queue.getJobCounts('delayed')).toEqual({ delayed: 1 });
  });

  it('refuses a bad override without storing it', async () => {
    const c = new ObjectId();
    await tenants().insertOne({ _id: c, hierarchy: 'p.c' });
    await expect(
      setSchedule(
        { stores: buildStores(mongo.db), triggers: queue, settings: DEFAULT_SETTINGS },
        { tenantId: c.toHexString(), schedule: { pattern: 'every night' } },
      ),
    ).rejects.toThrow(ValidationError);
    await expect(
      setSchedule(
        { stores: buildStores(mongo.db), triggers: queue, settings: DEFAULT_SETTINGS },
        { tenantId: c.toHexString(), schedule: { tz: 'Mars/Olympus' } },
      ),
    ).rejects.toThrow(/time zone/);
    await expect(
      setSchedule(
        { stores: buildStores(mongo.db), triggers: queue, settings: DEFAULT_SETTINGS },
        { tenantId: c.toHexString(), schedule: { pattern: '99 99 * * *' } },
      ),
    ).rejects.toThrow(ValidationError);
    expect(
      (
        await showSchedule(
          { stores: buildStores(mongo.db), triggers: queue, settings: settingsFor(settings) },
          { tenantId: c.toHexString() },
        )
      ).source,
    ).toBe('default');
    await tenants().deleteOne({ _id: c });
    await reconcileSchedules(queue, buildStores(mongo.db), settings);
  });

  it('elects one leader among scheduler processes', async () => {
    const one = new LeaderLock(redis.redis, `${redis.prefix}:lock-test`, 'one', 300);
    const two = new LeaderLock(redis.redis, `${redis.prefix}:lock-test`, 'two', 300);
    expect(await one.acquireOrRenew()).toBe(true);
    expect(await two.acquireOrRenew()).toBe(false);
    expect(await one.acquireOrRenew()).toBe(true);
    await two.release(); // not the holder: no effect
    expect(await one.leader()).toBe('one');
    // The lock's ttl runs on Redis's clock (PX): wait until Redis has let the key expire.
    await eventually(async () => (await one.leader()) === null, 5000);
    expect(await two.acquireOrRenew()).toBe(true);
    expect(await one.acquireOrRenew()).toBe(false);

    const s1 = await startScheduler({
      redis: { url: redis.url, prefix: redis.prefix },
      stores: buildStores(mongo.db),
      schedule: settings,
      reconcileMs: 200,
      leaderTtlMs: 600,
      id: 's1',
      logger: quietLogger,
    });
    const s2 = await startScheduler({
      redis: { url: redis.url, prefix: redis.prefix },
      stores: buildStores(mongo.db),
      schedule: settings,
      reconcileMs: 200,
      leaderTtlMs: 600,
      id: 's2',
      logger: quietLogger,
    });
    try {
      expect([s1.isLeader(), s2.isLeader()]).toEqual([true, false]);
      expect(await s2.tick()).toBeNull();
      await s1.close();
      await eventually(async () => s2.isLeader(), 5000);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('turns a scheduler firing into a de-duplicated sync job', async () => {
    const syncQueue: Queue<SyncJobData, unknown, string> = createSyncQueue({
      url: redis.url,
      prefix: redis.prefix,
    });
    const stores = buildStores(mongo.db);
    const { runs } = stores;
    const triggers = startTriggerWorker({ url: redis.url, prefix: redis.prefix }, quietLogger, stores);
    try {
      const id = new ObjectId();
      const tenantId = id.toHexString();
      await tenants().insertOne({ _id: id, hierarchy: 'provider.triggered' });
      // Two firings (as after a missed night): one sync job, one queued run, the other request merged.
      await queue.add('scheduled-sync', { tenantId });
      await queue.add('scheduled-sync', { tenantId });
      await eventually(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= 2, 10_000);
      const waiting = await syncQueue.getJobs(['waiting', 'prioritized']);
      expect(waiting.map((j) => j.data)).toEqual([
        { tenantId, trigger: 'schedule', requestedBy: 'scheduler', runId: waiting[0]!.id },
      ]);
      const recorded = await runs.list({ tenantId });
      expect(recorded.map((r) => r.status).sort()).toEqual(['merged', 'queued']);
      const queued = recorded.find((r) => r.status === 'queued')!;
      expect(queued).toMatchObject({ id: waiting[0]!.id, jobId: waiting[0]!.id, trigger: 'schedule' });
      expect(queued.hierarchy).toBe('provider.triggered');
      expect(recorded.find((r) => r.status === 'merged')!.mergedInto).toBe(queued.id);

      // A firing for a tenant deleted since enqueues nothing and records nothing.
      const gone = new ObjectId().toHexString();
      await queue.add('scheduled-sync', { tenantId: gone });
      await eventually(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= 3, 10_000);
      expect(await syncQueue.getJobs(['waiting', 'prioritized'])).toHaveLength(1);
      expect(await runs.list({ tenantId: gone })).toEqual([]);
    } finally {
      await triggers.close();
      await syncQueue.close();
    }
  });
});
