/**
 * The scheduler leader's queue and failure-streak series that the alerts of deploy/alerts.yml read
 * (M365SyncNoWorkers, M365SyncSyncWaitingTooLong, M365SyncQueuePaused, M365SyncKindFailingNights),
 * collected from a real Redis queue and real run records into a real prom-client registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker, type Queue } from 'bullmq';
import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import { buildStores } from '../../connectors/mongo/stores.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';
import type { KindResult } from '../../domain/sync-run.js';
import { workerConnection } from '../../queues/connection.js';
import { createSyncQueue, SYNC_JOB, SYNC_QUEUE, type SyncJobData } from '../../queues/sync-queue.js';
import { clusterMetrics, KIND_STREAK_RUNS } from '../../workers/cluster-metrics.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { addTenant } from './support/harness.js';

let redis: TestRedis;
let mongo: TestMongo;
let queue: Queue<SyncJobData, unknown, string>;
let registry: Registry;
let leader = true;

/** One series' value from a scrape of the registry, or undefined when it is absent. */
async function value(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  const found = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return found?.value;
}

const outcome = (status: KindResult['status']): KindResult => ({
  status,
  created: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  durationMs: 1,
  ...(status === 'failed' ? { error: { code: 'PERMISSION', message: 'no Mail.Read' } } : {}),
});

beforeAll(async () => {
  redis = await testRedis('cluster-metrics');
  mongo = await testMongo('cluster-metrics');
  queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  registry = new Registry();
  clusterMetrics({
    stores: buildStores(mongo.db),
    syncQueue: queue,
    isLeader: () => leader,
    settings: { ...DEFAULT_SETTINGS, M365SYNC_STALENESS_REFRESH_MS: 0 },
    registry,
  });
});
afterAll(async () => {
  await queue?.obliterate({ force: true });
  await queue?.close();
  await redis?.close();
  await mongo?.close();
});

describe('cluster metrics for the alerts', () => {
  it('says how many workers consume the queue', async () => {
    expect(await value('m365sync_queue_workers', { queue: SYNC_QUEUE })).toBe(0);
    const worker = new Worker(SYNC_QUEUE, async () => undefined, {
      connection: workerConnection({ url: redis.url, prefix: redis.prefix }),
      prefix: redis.prefix,
      autorun: false,
    });
    try {
      await worker.waitUntilReady();
      expect(await value('m365sync_queue_workers', { queue: SYNC_QUEUE })).toBe(1);
    } finally {
      await worker.close();
    }
  });

  it('ages the oldest waiting sync and says when the queue is paused', async () => {
    expect(await value('m365sync_queue_oldest_waiting_seconds', { queue: SYNC_QUEUE })).toBe(0);
    expect(await value('m365sync_queue_paused', { queue: SYNC_QUEUE })).toBe(0);
    const data = { tenantId: 'aaaaaaaaaaaaaaaaaaaaaaaa', trigger: 'cli' as const, requestedBy: 'test' };
    await queue.add(SYNC_JOB, data, { timestamp: Date.now() - 2 * 3600_000 });
    await queue.add(SYNC_JOB, data);
    const age = (await value('m365sync_queue_oldest_waiting_seconds', { queue: SYNC_QUEUE }))!;
    expect(age).toBeGreaterThanOrEqual(2 * 3600);
    expect(age).toBeLessThan(3 * 3600);
    await queue.pause();
    expect(await value('m365sync_queue_paused', { queue: SYNC_QUEUE })).toBe(1);
    await queue.resume();
    expect(await value('m365sync_queue_paused', { queue: SYNC_QUEUE })).toBe(0);
  });

  it('gives each kind its longest failure streak, and each failing tenant its own', async () => {
    const stores = buildStores(mongo.db);
    const tenantId = await addTenant(mongo.db, 'provider.streaks');
    // Oldest first: mailboxes succeeds once, then fails three nights in a row; users fails once, then recovers.
    const nights: Record<string, KindResult['status']>[] = [
      { users: 'succeeded', mailboxes: 'succeeded' },
      { users: 'failed', mailboxes: 'failed' },
      { users: 'succeeded', mailboxes: 'failed' },
      { users: 'succeeded', mailboxes: 'failed' },
    ];
    for (const [i, kinds] of nights.entries()) {
      const run = await stores.runs.start({
        tenantId,
        hierarchy: 'provider.streaks',
        trigger: 'schedule',
        requestedBy: 'scheduler',
        jobId: `night-${i}`,
        attempt: 1,
        worker: 'test',
      });
      await stores.runs.finish(run.id, {
        status: 'partial',
        kinds: Object.fromEntries(Object.entries(kinds).map(([k, s]) => [k, outcome(s)])),
      });
    }
    // Requests merged into those runs, and a failed attempt the queue tries again, are newer than
    // every night: more of them than the streak's look-back, and still the streak is read from the nights.
    for (let i = 0; i < KIND_STREAK_RUNS + 2; i++) {
      const id = new ObjectId().toHexString();
      await stores.runs.recordQueued({
        id,
        tenantId,
        hierarchy: 'provider.streaks',
        trigger: 'api',
        requestedBy: `op${i}`,
        jobId: id,
      });
      await stores.runs.endQueued(id, { status: 'merged', mergedInto: 'night-3' });
    }
    const retried = await stores.runs.start({
      tenantId,
      hierarchy: 'provider.streaks',
      trigger: 'schedule',
      requestedBy: 'scheduler',
      jobId: 'night-4',
      attempt: 1,
      worker: 'test',
    });
    await stores.runs.finish(retried.id, {
      status: 'failed',
      willRetry: true,
      kinds: { mailboxes: outcome('succeeded') },
    });
    expect(await value('m365sync_kind_failure_streak_max', { kind: 'mailboxes' })).toBe(3);
    expect(await value('m365sync_kind_failure_streak_max', { kind: 'users' })).toBe(0);
    expect(await value('m365sync_kind_failure_streak_max', { kind: 'phone_numbers' })).toBe(0);
    const [tenant] = (await registry.getSingleMetric('m365sync_tenant_kind_failure_streak')!.get()).values;
    expect(tenant).toMatchObject({ value: 3, labels: { kind: 'mailboxes' } });
    expect(String(tenant!.labels.tenant)).toMatch(/^provider\.streaks\//);
  });

  it('serves none of them from a scheduler that is not the leader', async () => {
    leader = false;
    try {
      for (const name of [
        'm365sync_queue_workers',
        'm365sync_queue_paused',
        'm365sync_queue_oldest_waiting_seconds',
        'm365sync_kind_failure_streak_max',
      ])
        expect((await registry.getSingleMetric(name)!.get()).values, name).toEqual([]);
    } finally {
      leader = true;
    }
  });
});
