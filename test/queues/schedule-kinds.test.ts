/**
 * Schedules that carry kind lists: a tenant with an hourly licensing schedule and one with a nightly
 * voice schedule produce runs of exactly those kinds. The scheduler's firing is simulated by adding
 * the scheduler's own template job to the trigger queue (waiting for cron would take an hour); from
 * there on it is the real path: trigger worker → sync queue → worker → run record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue, Worker } from 'bullmq';
import { KindListStore } from '../../connectors/mongo/kind-lists.js';
import { buildStores } from '../../connectors/mongo/stores.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { KindResult } from '../../domain/sync-run.js';
import { resolveKinds } from '../../domain/kind-lists.js';
import {
  createTriggerQueue,
  schedulerId,
  TRIGGER_JOB,
  type ScheduleSettings,
} from '../../queues/schedules.js';
import { setSchedule } from '../../operations/schedules.js';
import type { SyncProcessor } from '../../workers/processor.js';
import { startTriggerWorker } from '../../workers/trigger-worker.js';
import type { SyncWorker } from '../../workers/worker.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastSettings,
  fastWorker,
  quietLogger,
  startTestWorker,
} from '../workers/support/harness.js';
import { settingsFor } from './support/schedule-settings.js';

const settings: ScheduleSettings = {
  tz: 'UTC',
  windowStartMinute: 60,
  windowMinutes: 240,
  deltaEnabled: true,
  deltaMinutes: 15,
};

/** Records each kind it was asked for as succeeded, without pulling anything. */
const kindsEcho: SyncProcessor = async (ctx) => {
  const kinds: Record<string, KindResult> = {};
  for (const kind of ctx.kinds ?? ['users'])
    kinds[kind] = { status: 'succeeded', created: 0, updated: 0, unchanged: 0, deleted: 0, durationMs: 0 };
  return { kinds };
};

const voice = resolveKinds('voice'); // canonical kind order

describe('schedules with kind lists', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let triggers: Queue;
  let worker: SyncWorker;
  let triggerWorker: Worker;
  beforeAll(async () => {
    redis = await testRedis('schedule-kinds');
    mongo = await testMongo('schedule-kinds');
    triggers = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
    worker = await startTestWorker({
      redis: { url: redis.url, prefix: redis.prefix },
      db: mongo.db,
      processor: kindsEcho,
      settings: { ...fastWorker, concurrency: 2 },
      queueSettings: fastQueue,
      logger: quietLogger,
    });
    triggerWorker = startTriggerWorker(
      { url: redis.url, prefix: redis.prefix },
      quietLogger,
      buildStores(mongo.db),
      { settings: fastSettings },
    );
  });
  afterAll(async () => {
    await triggerWorker?.close();
    await worker?.close(1000);
    await triggers?.close();
    await redis?.close();
    await mongo?.close();
  });

  it('runs each tenant’s scheduled kinds', { timeout: 150_000 }, async () => {
    const hourly = await addTenant(mongo.db);
    const nightly = await addTenant(mongo.db);
    const lists = new KindListStore(mongo.db);
    await lists.set({ name: 'hourly-licensing', kinds: 'licensing' });
    const a = await setSchedule(
      { stores: buildStores(mongo.db), triggers: triggers, settings: settingsFor(settings) },
      {
        tenantId: hourly,
        schedule: { pattern: '0 * * * *', kinds: await lists.resolve('hourly-licensing') },
      },
    );
    const b = await setSchedule(
      { stores: buildStores(mongo.db), triggers: triggers, settings: settingsFor(settings) },
      { tenantId: nightly, schedule: { pattern: '30 2 * * *', kinds: await lists.resolve('voice') } },
    );
    expect(a.kinds).toEqual(['users', 'licences']);
    expect(b.kinds).toEqual(voice);

    // Fire each scheduler once, with the data its template carries.
    for (const tenantId of [hourly, nightly]) {
      const scheduler = await triggers.getJobScheduler(schedulerId(tenantId));
      expect(scheduler?.template?.data).toBeDefined();
      await triggers.add(TRIGGER_JOB, scheduler!.template!.data);
    }
    const runs = new SyncRunStore(mongo.db);
    const finished = async (tenantId: string) => {
      const [run] = await runs.list({ tenantId, limit: 1 });
      return run && run.status === 'succeeded' ? run : undefined;
    };
    // Bounds on waiting, not on speed: on a loaded CI machine two runs may take a while to be picked up.
    const hourlyRun = await eventually(() => finished(hourly), 60_000);
    const nightlyRun = await eventually(() => finished(nightly), 60_000);
    expect(hourlyRun).toMatchObject({ trigger: 'schedule', kindsRequested: ['users', 'licences'] });
    expect(Object.keys(hourlyRun.kinds)).toEqual(['users', 'licences']);
    expect(nightlyRun.kindsRequested).toEqual(voice);
    expect(Object.keys(nightlyRun.kinds)).toEqual(voice);
  });
});
