/**
 * Cancelling runs and pausing the queue end to end: the API over real HTTP and the real CLI, a real
 * worker running the full pull against the simulated tenant (its Graph slowed with setLatency so a run
 * is caught mid-way). A running run stops at its next page, sweeps nothing and ends `cancelled`
 * without a retry; a queued run or a kept follow-up leaves the queue; an ended run is a 409; a paused
 * queue keeps requests waiting until it is resumed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { RunStatus, SyncRun } from '../../domain/sync-run.js';
import type { SimulatedTenant } from '../../simulators/m365.js';
import { callApi } from '../support/api.js';
import { cli } from '../support/cli.js';
import { eventually } from '../workers/support/harness.js';
import { startEngine, type Engine } from './support/engine.js';

describe('cancel a run, pause the queue', { timeout: 180_000 }, () => {
  let engine: Engine;
  let sim: SimulatedTenant;
  let runs: SyncRunStore;
  let app: FastifyInstance;
  let base: string;
  let token: string;
  let tenantId: string;

  const api = (method: string, path: string, body?: unknown) => callApi(base, token, method, path, body);
  const runWith = (runId: string, status: RunStatus) =>
    eventually(async () => {
      const run = await runs.get(runId);
      return run?.status === status ? run : undefined;
    }, 60_000);
  const users = () => engine.mongo.db.collection('users').countDocuments({ tenantId });

  beforeAll(async () => {
    engine = await startEngine('e2e-cancel', { dataset: { seed: 47, users: 300 } });
    sim = engine.sim;
    runs = new SyncRunStore(engine.mongo.db);
    // Ten users a page: a slowed Graph takes a while over them.
    tenantId = (
      await engine.stores.tenants.add({
        ...sim.tenantInput,
        'Microsoft 365': { ...sim.tenantInput['Microsoft 365'], msol_user_api_page_size: 10 },
      })
    ).id;
    token = (await engine.stores.tokens.create({ name: 'night-ops', role: 'admin', scope: '*' }, 'test'))
      .token;
    app = buildApi({
      stores: engine.stores,
      syncQueue: engine.queue,
      authentication: { tokens: engine.stores.tokens },
      checkResponses: true,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    sim?.graph.setLatency(0);
    await app?.close();
    await engine?.close();
  });

  it('a running run stops at its next page, sweeps nothing, ends cancelled; its follow-up is dropped', async () => {
    const first = await engine.sync(tenantId, 'baseline');
    expect(first.status).toBe('succeeded');
    const stored = await users();
    expect(stored).toBe(300);

    // Overnight 40 users left: a run that completed users would delete them.
    const next = structuredClone(sim.dataset());
    next.users.splice(0, 40);
    sim.setDataset(next);
    sim.graph.setLatency(400);

    const started = await api('POST', `/tenants/${tenantId}/sync`, {});
    expect(started.status).toBe(202);
    const runId = started.json.runId as string;
    // Running, and its users are coming in page by page.
    await eventually(async () => {
      const job = await engine.queue.getJob(runId);
      const progress = job?.progress as { kind?: string } | undefined;
      return (await runs.get(runId))?.status === 'running' && progress?.kind === 'users';
    }, 60_000);

    // A request during the run is kept as its one follow-up; cancelling it takes it out of the queue.
    const followUp = await api('POST', `/tenants/${tenantId}/sync`, {});
    expect(followUp.json.outcome).toBe('follow-up');
    const followUpId = followUp.json.runId as string;
    const dropped = await api('DELETE', `/runs/${followUpId}`);
    expect(dropped.status).toBe(200);
    expect(dropped.json.outcome).toBe('cancelled');
    expect((dropped.json.run as SyncRun).status).toBe('cancelled');

    const cancel = await api('DELETE', `/runs/${runId}`);
    expect(cancel.status).toBe(202);
    expect(cancel.json.outcome).toBe('cancel-requested');
    expect((cancel.json.run as SyncRun).cancelRequested?.by).toBe('night-ops');

    const run = await runWith(runId, 'cancelled');
    expect(run.error).toMatchObject({ code: 'CANCELLED' });
    expect(run.error?.message).toMatch(/night-ops/);
    expect(run.kinds.users?.status).toBe('cancelled');
    // Nothing of users was swept: the 40 who left are still there.
    expect(await users()).toBe(stored);
    const end = await engine.queue.getJob(runId);
    expect(await end?.getState()).toBe('failed');
    expect(end?.failedReason).toMatch(/^CANCELLED: /);
    // The job ended: a kept follow-up would be a job by now. It was dropped.
    expect(await engine.queue.getJobState(followUpId)).toBe('unknown');
    expect((await runs.get(followUpId))?.status).toBe('cancelled');

    // An ended run cannot be cancelled.
    const again = await api('DELETE', `/runs/${runId}`);
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 'CONFLICT' });
    sim.graph.setLatency(0);
  });

  it('a paused queue keeps requests waiting; a queued run is cancelled by the CLI; resume lets syncs run', async () => {
    const env = engine.cliEnv('night-ops@cli');
    const paused = await api('POST', '/queue/pause', {});
    expect(paused.status).toBe(200);
    expect(paused.json.paused).toBe(true);

    const queued = await api('POST', `/tenants/${tenantId}/sync`, {});
    expect(queued.status).toBe(202);
    const queuedId = queued.json.runId as string;
    // The CLI sees the queue paused, with the request waiting and none taken by the running worker.
    const shown = await cli(env, 'queue', 'show', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ paused: true, jobs: { waiting: 1, active: 0 } });
    expect((await runs.get(queuedId))?.status).toBe('queued');

    const cancelled = await cli(env, 'runs', 'cancel', queuedId, '--json');
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.out)).toMatchObject({ outcome: 'cancelled', run: { status: 'cancelled' } });
    expect(await engine.queue.getJobState(queuedId)).toBe('unknown');
    const twice = await cli(env, 'runs', 'cancel', queuedId);
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/^error \(CONFLICT\): .*already ended \(cancelled\)/);

    const waiting = await api('POST', `/tenants/${tenantId}/sync`, {});
    const waitingId = waiting.json.runId as string;
    const resumed = await cli(env, 'queue', 'resume');
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/^running: workers take sync jobs/);
    expect((await api('GET', '/queue')).json.paused).toBe(false);
    // It runs to its end: now users complete, and the 40 who left are found (and held back by
    // delete protection, 13 % being over its 5 %), which the cancelled run never got to.
    const done = await runWith(waitingId, 'needs_review');
    expect(done.requestedBy).toBe('night-ops');
    expect(done.kinds.users?.held?.wouldDelete).toBe(40);
  });
});
