/**
 * A tenant's status and schedule over real HTTP, with real Redis (BullMQ job schedulers) and the
 * MongoDB-wire server: the running run, the newest waiting request, the last run, the last success
 * and the next scheduled run; the schedule shown, overridden and set back to the default; /readyz.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingFromEnv } from '../../connectors/mongo/encryption.js';
import { SyncRuns, type RunStatus } from '../../connectors/mongo/sync-runs.js';
import { createTriggerQueue, defaultPattern, scheduleSettings, schedulerId } from '../../queues/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { openStores } from '../../scripts/commands/context.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';

let mongo: TestMongo;
let redis: TestRedis;
let queue: Queue<SyncJobData, unknown, string>;
let triggerQueue: Queue;
let app: FastifyInstance;
let base: string;
let admin: string;
let viewer: string;
let tenantId: string;
const seeded: Partial<Record<RunStatus, string>> = {};

beforeAll(async () => {
  mongo = await testMongo('api-status');
  redis = await testRedis('api-status');
  const stores = await openStores(mongo.db, keyRingFromEnv({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  await allowFixtureDestinations(stores.destinations);
  queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  triggerQueue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
  admin = (await stores.tokens.create({ name: 'sched-admin', role: 'admin', scope: '*' }, 'test')).token;
  viewer = (await stores.tokens.create({ name: 'watcher', role: 'viewer', scope: '*' }, 'test')).token;
  tenantId = (await stores.tenants.add(validTenantInput())).id;

  // Oldest first: a success, a failure (the last run), one running, one waiting.
  const runs = new SyncRuns(mongo.db);
  for (const status of ['succeeded', 'failed', 'running', 'queued'] as const) {
    const run = await runs.recordQueued({
      id: new ObjectId().toHexString(),
      tenantId,
      hierarchy: 'provider.customer',
      trigger: 'schedule',
      requestedBy: 'scheduler',
      jobId: `job-${status}`,
    });
    if (status === 'running')
      await runs.collection.updateOne({ _id: new ObjectId(run.id) }, { $set: { status: 'running' } });
    else if (status !== 'queued') await runs.finish(run.id, { status, kinds: {} });
    seeded[status] = run.id;
  }
  app = buildApi({
    stores,
    syncQueue: queue,
    triggerQueue,
    env: {},
    authentication: { tokens: stores.tokens },
    checkResponses: true,
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await queue?.close();
  await triggerQueue?.close();
  await redis?.close();
  await mongo?.close();
});

const call = async (token: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field
  return { status: response.status, json: (await response.json()) as Record<string, any> };
};

describe('GET /tenants/:ref/status', () => {
  it('gives the running run, the waiting request, the last run, the last success; no schedule yet', async () => {
    const answer = await call(viewer, 'GET', `/tenants/${tenantId}/status`);
    expect(answer.status).toBe(200);
    expect(answer.json.tenantId).toBe(tenantId);
    expect(answer.json.running.id).toBe(seeded.running);
    expect(answer.json.queued.id).toBe(seeded.queued);
    expect(answer.json.lastRun.id).toBe(seeded.failed);
    expect(answer.json.lastSuccess.id).toBe(seeded.succeeded);
    // No scheduler process has reconciled this tenant yet: nothing will fire.
    expect(answer.json.nextScheduledAt).toBeNull();
    expect(answer.json.schedule).toMatchObject({ source: 'default', active: false, enabled: true });
  });

  it('gives the next scheduled run once the tenant has a job scheduler', async () => {
    const set = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, {
      pattern: '0 3 * * *',
      tz: 'Europe/London',
      kinds: 'licensing',
    });
    expect(set.status).toBe(200);
    const status = await call(viewer, 'GET', `/tenants/${tenantId}/status`);
    const scheduler = await triggerQueue.getJobScheduler(schedulerId(tenantId));
    expect(scheduler?.next).toBeGreaterThan(Date.now());
    expect(status.json.nextScheduledAt).toBe(new Date(scheduler!.next!).toISOString());
  });
});

describe('schedules', () => {
  it('shows, overrides and clears a schedule, as the CLI does', async () => {
    const set = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, {
      pattern: '30 2 * * 1-5',
      tz: 'Europe/London',
      kinds: ['licensing', 'mailboxes'],
    });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({
      source: 'override',
      pattern: '30 2 * * 1-5',
      tz: 'Europe/London',
      active: true,
      enabled: true,
    });
    // A kind list is stored as the kinds it meant.
    expect(set.json.kinds).toContain('licences');
    expect(set.json.kinds).toContain('mailboxes');
    expect(await mongo.db.collection<{ _id: string }>('schedules').findOne({ _id: tenantId })).toMatchObject({
      updatedBy: 'sched-admin',
    });
    const shown = await call(viewer, 'GET', `/tenants/${tenantId}/schedule`);
    expect(shown.json).toEqual(set.json);

    const off = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, { enabled: false });
    expect(off.json).toMatchObject({ enabled: false, active: false });
    expect(await triggerQueue.getJobScheduler(schedulerId(tenantId))).toBeUndefined();

    const cleared = await call(admin, 'DELETE', `/tenants/${tenantId}/schedule`);
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({
      source: 'default',
      enabled: true,
      active: true,
      pattern: defaultPattern(tenantId, scheduleSettings({})),
    });
    expect(await mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId })).toBe(0);
  });

  it('refuses a bad pattern, zone or kind, naming the field, and stores nothing', async () => {
    for (const [body, field] of [
      [{ pattern: 'every night' }, 'pattern'],
      [{ tz: 'Mars/Olympus' }, 'tz'],
      [{ kinds: 'nope' }, 'kinds'],
      [{ enabled: 'yes' }, 'enabled'],
    ] as const) {
      const answer = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json.code).toBe('INVALID_INPUT');
      expect(answer.json.problems.map((p: { field: string }) => p.field)).toContain(field);
    }
    expect(await mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId })).toBe(0);
  });

  it('needs an admin to change a schedule', async () => {
    expect((await call(viewer, 'PUT', `/tenants/${tenantId}/schedule`, {})).status).toBe(403);
    expect((await call(viewer, 'DELETE', `/tenants/${tenantId}/schedule`)).status).toBe(403);
  });
});

describe('GET /readyz', () => {
  it('answers 200 when MongoDB and Redis both answer', async () => {
    const answer = await fetch(`${base}/readyz`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'ready', checks: { mongodb: 'ok', redis: 'ok' } });
  });
});
