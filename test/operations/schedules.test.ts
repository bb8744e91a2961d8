/**
 * The schedule operations (operations/schedules.ts) against the real store and Redis: set stores the
 * override and applies it to the tenant's job scheduler at once, a bad override is refused naming its
 * field and changes nothing, disabling removes the scheduler, clear goes back to the spread default,
 * and show says what is stored and what Redis holds (whether a scheduler exists, when it fires next).
 * How schedules are spread and reconciled for the whole fleet: test/queues/schedules.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { buildStores, type Stores } from '../../connectors/mongo/index.js';
import { clearSchedule, setSchedule, showSchedule, type ScheduleDeps } from '../../operations/index.js';
import {
  createTriggerQueue,
  defaultPattern,
  schedulerId,
  type ScheduleSettings,
} from '../../queues/schedules.js';
import { settingsFor } from '../queues/support/schedule-settings.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { addTenant } from '../workers/support/harness.js';

const schedule: ScheduleSettings = {
  tz: 'UTC',
  windowStartMinute: 60,
  windowMinutes: 240,
  deltaEnabled: false,
  deltaMinutes: 15,
};

describe('the schedule operations', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let triggers: Queue;
  let stores: Stores;
  let deps: ScheduleDeps;

  beforeAll(async () => {
    redis = await testRedis('op_schedules');
    mongo = await testMongo('op_schedules');
    triggers = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
    stores = buildStores(mongo.db);
    deps = { stores, triggers, settings: settingsFor(schedule) };
  });
  afterAll(async () => {
    await triggers.close();
    await redis.close();
    await mongo.close();
  });

  const schedulerOf = (tenantId: string) => triggers.getJobScheduler(schedulerId(tenantId));

  it("shows a tenant's default schedule, and whether Redis holds its scheduler yet", async () => {
    const tenantId = await addTenant(mongo.db);
    const before = await showSchedule(deps, { tenantId });
    expect(before).toMatchObject({
      tenantId,
      enabled: true,
      source: 'default',
      pattern: defaultPattern(tenantId, schedule),
      tz: 'UTC',
      active: false,
      delta: { active: false },
    });
    expect(before.next).toBeUndefined();

    // Clearing (nothing to clear) applies the default at once.
    const after = await clearSchedule(deps, { tenantId });
    expect(after).toMatchObject({ source: 'default', active: true });
    expect(after.next).toBeInstanceOf(Date);
    expect(after.next!.getTime()).toBeGreaterThan(Date.now());
  });

  it('sets an override: stored with who set it, applied to the scheduler at once', async () => {
    const tenantId = await addTenant(mongo.db);
    const view = await setSchedule(deps, {
      tenantId,
      schedule: { pattern: '30 3 * * *', tz: 'Europe/London', kinds: ['users'] },
      updatedBy: 'op',
    });
    expect(view).toMatchObject({
      source: 'override',
      pattern: '30 3 * * *',
      tz: 'Europe/London',
      kinds: ['users'],
      active: true,
    });
    const london = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/London',
      hour: '2-digit',
      minute: '2-digit',
    }).format(view.next);
    expect(london).toBe('03:30');
    expect(await schedulerOf(tenantId)).toMatchObject({ pattern: '30 3 * * *', tz: 'Europe/London' });
    const stored = await mongo.db.collection('schedules').findOne({ _id: tenantId as never });
    expect(stored).toMatchObject({ pattern: '30 3 * * *', tz: 'Europe/London', updatedBy: 'op' });
  });

  it('refuses a bad override naming its field, and keeps the schedule it had', async () => {
    const tenantId = await addTenant(mongo.db);
    await setSchedule(deps, { tenantId, schedule: { pattern: '0 2 * * *' } });
    for (const [bad, field] of [
      [{ pattern: 'every night' }, 'pattern'],
      [{ pattern: '99 99 * * *' }, 'pattern'],
      [{ tz: 'Mars/Olympus' }, 'tz'],
      [{ enabled: 'sometimes' }, 'enabled'],
    ] as const) {
      await expect(setSchedule(deps, { tenantId, schedule: bad })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        problems: [expect.objectContaining({ field })],
      });
    }
    expect(await showSchedule(deps, { tenantId })).toMatchObject({
      source: 'override',
      pattern: '0 2 * * *',
      active: true,
    });
    expect(await schedulerOf(tenantId)).toMatchObject({ pattern: '0 2 * * *' });
  });

  it('disabling removes the scheduler; clearing brings the default back', async () => {
    const tenantId = await addTenant(mongo.db);
    await clearSchedule(deps, { tenantId });
    expect(await schedulerOf(tenantId)).toBeTruthy();

    const off = await setSchedule(deps, { tenantId, schedule: { enabled: false } });
    expect(off).toMatchObject({ enabled: false, source: 'override', active: false });
    expect(off.next).toBeUndefined();
    expect(await schedulerOf(tenantId)).toBeFalsy();

    const back = await clearSchedule(deps, { tenantId });
    expect(back).toMatchObject({ enabled: true, source: 'default', active: true });
    expect(await stores.schedules.get(tenantId)).toBeNull();
    expect(await schedulerOf(tenantId)).toMatchObject({ pattern: defaultPattern(tenantId, schedule) });
  });
});
