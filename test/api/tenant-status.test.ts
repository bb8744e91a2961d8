/**
 * A tenant's status and schedule over real HTTP, with real Redis (BullMQ job schedulers) and the
 * MongoDB-wire server: the running run, the newest waiting request, the last run, the last success
 * and the next scheduled run; the schedule shown, overridden and set back to the default; /readyz.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { RunStatus } from '../../domain/sync-run.js';
import { DEFAULT_SCHEDULE_SETTINGS, defaultPattern, schedulerId } from '../../queues/schedules.js';
import { deltaSchedulerId } from '../../queues/delta-schedules.js';
import { callApi, startTestApi, type TestApi } from '../support/api.js';
import { validTenantInput } from '../support/fixtures.js';

let api: TestApi;
let admin: string;
let viewer: string;
let tenantId: string;
const seeded: Partial<Record<RunStatus, string>> = {};

beforeAll(async () => {
  api = await startTestApi('api-status', async (stores, mongo) => {
    admin = (await stores.tokens.create({ name: 'sched-admin', role: 'admin', scope: '*' }, 'test')).token;
    viewer = (await stores.tokens.create({ name: 'watcher', role: 'viewer', scope: '*' }, 'test')).token;
    tenantId = (await stores.tenants.add(validTenantInput())).id;
    // Oldest first: a success, a failure (the last run), one running, one waiting.
    const runs = new SyncRunStore(mongo.db);
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
  });
}, 60_000);

afterAll(async () => {
  await api?.close();
});

const call = (token: string, method: string, path: string, body?: unknown) =>
  callApi(api.base, token, method, path, body);

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
    const scheduler = await api.triggerQueue.getJobScheduler(schedulerId(tenantId));
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
    expect(
      await api.mongo.db.collection<{ _id: string }>('schedules').findOne({ _id: tenantId }),
    ).toMatchObject({
      updatedBy: 'sched-admin',
    });
    const shown = await call(viewer, 'GET', `/tenants/${tenantId}/schedule`);
    expect(shown.json).toEqual(set.json);

    const off = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, { enabled: false });
    expect(off.json).toMatchObject({ enabled: false, active: false });
    expect(await api.triggerQueue.getJobScheduler(schedulerId(tenantId))).toBeUndefined();

    const cleared = await call(admin, 'DELETE', `/tenants/${tenantId}/schedule`);
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({
      source: 'default',
      enabled: true,
      active: true,
      pattern: defaultPattern(tenantId, DEFAULT_SCHEDULE_SETTINGS),
    });
    expect(
      await api.mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId }),
    ).toBe(0);
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
    expect(
      await api.mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId }),
    ).toBe(0);
  });

  it('sets, shows and clears the delta interval; 0 turns delta runs off, the nightly one stays', async () => {
    const set = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, { deltaMinutes: 5 });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(set.json).toMatchObject({ source: 'override', enabled: true, active: true });
    expect(set.json.delta).toMatchObject({
      enabled: true,
      everyMinutes: 5,
      source: 'override',
      active: true,
    });
    const scheduler = await api.triggerQueue.getJobScheduler(deltaSchedulerId(tenantId));
    expect(scheduler?.every).toBe(5 * 60_000);
    expect(set.json.delta.next).toBe(new Date(scheduler!.next!).toISOString());
    expect(
      await api.mongo.db.collection<{ _id: string }>('schedules').findOne({ _id: tenantId }),
    ).toMatchObject({ deltaMinutes: 5, enabled: true });
    expect((await call(viewer, 'GET', `/tenants/${tenantId}/schedule`)).json).toEqual(set.json);
    expect((await call(viewer, 'GET', `/tenants/${tenantId}/status`)).json.schedule).toEqual(set.json);

    const off = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, { deltaMinutes: 0 });
    expect(off.json).toMatchObject({ enabled: true, active: true });
    expect(off.json.delta).toEqual({
      enabled: false,
      everyMinutes: 0,
      source: 'override',
      off: 'override',
      active: false,
    });
    expect(await api.triggerQueue.getJobScheduler(deltaSchedulerId(tenantId))).toBeUndefined();

    const cleared = await call(admin, 'DELETE', `/tenants/${tenantId}/schedule`);
    expect(cleared.json.delta).toMatchObject({
      enabled: true,
      everyMinutes: 15,
      source: 'default',
      active: true,
    });
    expect(cleared.json.delta.offsetSeconds).toBeLessThan(15 * 60);
    expect(await api.triggerQueue.getJobScheduler(deltaSchedulerId(tenantId))).toMatchObject({
      every: 15 * 60_000,
    });
  });

  it('refuses a delta interval that is not whole minutes from 0 to 1440, naming deltaMinutes', async () => {
    for (const deltaMinutes of [-1, 1.5, 1441, 'often', null]) {
      const answer = await call(admin, 'PUT', `/tenants/${tenantId}/schedule`, { deltaMinutes });
      expect(answer.status, JSON.stringify(deltaMinutes)).toBe(400);
      expect(answer.json.code).toBe('INVALID_INPUT');
      expect(answer.json.problems).toEqual([
        { field: 'deltaMinutes', message: expect.stringMatching(/whole number of minutes from 0/) },
      ]);
    }
    expect(
      await api.mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId }),
    ).toBe(0);
  });

  it('needs an admin to change a schedule', async () => {
    expect((await call(viewer, 'PUT', `/tenants/${tenantId}/schedule`, {})).status).toBe(403);
    expect((await call(viewer, 'DELETE', `/tenants/${tenantId}/schedule`)).status).toBe(403);
  });
});

describe('GET /readyz', () => {
  it('answers 200 when MongoDB and Redis both answer', async () => {
    const answer = await fetch(`${api.base}/readyz`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'ready', checks: { mongodb: 'ok', redis: 'ok' } });
  });
});
