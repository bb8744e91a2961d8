/**
 * Mass-delete protection end to end: real Redis, the MongoDB-wire server, the simulated tenant and a
 * worker. Users are removed from the simulated tenant and the sweep either goes through or is held.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeleteProtectionStore } from '../../connectors/mongo/delete-protection.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import type { Dataset } from '../../simulators/dataset.js';
import type { SimulatedTenant } from '../../simulators/m365.js';
import { approveDeletes } from '../../operations/approve-deletes.js';
import type { Stores } from '../../connectors/mongo/stores.js';
import { buildApi } from '../../api/server.js';
import { registry } from '../../observability/metrics.js';
import { cli } from '../support/cli.js';
import type { TestMongo } from '../support/services.js';
import { startEngine, type Engine } from './support/engine.js';

describe('mass-delete protection end to end', { timeout: 180_000 }, () => {
  let engine: Engine;
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let queue: Engine['queue'];
  let tenantId: string;
  let protection: DeleteProtectionStore;
  let cliEnv: NodeJS.ProcessEnv;
  let lastJobResult: unknown;
  let stores: Stores;

  const storedUsers = async () =>
    (
      await mongo.db
        .collection('users')
        .find({ tenantId }, { projection: { externalId: 1 } })
        .toArray()
    )
      .map((d) => String(d.externalId))
      .sort();
  const ids = (ds: Dataset) => ds.users.map((u) => u.id).sort();
  const sorted = (values: string[]) => [...values].sort();
  const withoutUsers = (ds: Dataset, drop: (index: number) => boolean): Dataset => {
    const next = structuredClone(ds);
    next.users = next.users.filter((_, i) => !drop(i));
    return next;
  };
  const sync = async (requestedBy: string): Promise<SyncRun> => {
    const { jobId } = await enqueueUnrecorded(queue, {
      tenantId,
      trigger: 'cli',
      requestedBy,
      kinds: ['users', 'licences'],
    });
    const { run, jobResult } = await engine.runOf(jobId, tenantId);
    lastJobResult = jobResult;
    return run;
  };

  beforeAll(async () => {
    engine = await startEngine('e2e-protection', { dataset: { seed: 21, users: 120 } });
    ({ sim, mongo, queue, stores } = engine);
    tenantId = (await stores.tenants.add(sim.tenantInput)).id;
    protection = new DeleteProtectionStore(mongo.db);
    cliEnv = engine.cliEnv('carol@cli');
    const first = await sync('first');
    expect(first.status).toBe('succeeded');
    expect(await storedUsers()).toEqual(ids(sim.dataset()));
  }, 120_000);

  // Thresholds set by one case must not decide the next one's outcome, even when a case fails midway.
  afterEach(async () => {
    await protection.clear({ global: true });
    await protection.clear({ hierarchy: 'demo.provider' });
    await protection.clear({ tenantId });
  });

  afterAll(async () => engine?.close());

  it('lets a deletion under the threshold through (default: 10 objects or 5 %)', async () => {
    const next = withoutUsers(sim.dataset(), (i) => i < 4);
    sim.setDataset(next);
    const run = await sync('under');
    expect(run.status).toBe('succeeded');
    expect(run.kinds.users).toMatchObject({ status: 'succeeded', deleted: 4 });
    expect(await storedUsers()).toEqual(ids(next));
  });

  it('holds a mass deletion (half the users gone), keeps the data, and approval deletes exactly those', async () => {
    const before = await storedUsers();
    const full = sim.dataset();
    const half = withoutUsers(full, (i) => i % 2 === 0);
    const gone = full.users.filter((_, i) => i % 2 === 0).map((u) => u.id);
    // Also rename a kept user: the upserts must still land.
    half.users[0]!.displayName = 'Renamed While Held';
    sim.setDataset(half);
    const held = await sync('mass');
    expect(held.status).toBe('needs_review');
    expect(held.kinds.users).toMatchObject({
      status: 'needs_review',
      deleted: 0,
      updated: 1,
      error: { code: 'DELETE_THRESHOLD_EXCEEDED' },
      held: { wouldDelete: gone.length, stored: before.length, limit: 10, origin: 'default' },
    });
    expect(held.kinds.users?.held?.sample).toHaveLength(20);
    expect(sorted(held.kinds.users!.held!.ids!)).toEqual(sorted(gone));
    // The job's return value (in Redis) carries the counts and the sample, not every id.
    const jobHeld = (lastJobResult as { kinds: Record<string, { held?: Record<string, unknown> }> }).kinds
      .users!.held!;
    expect(jobHeld).toMatchObject({ wouldDelete: gone.length });
    expect(jobHeld.ids).toBeUndefined();
    expect(await registry.metrics()).toMatch(/m365sync_sync_sweeps_held_total\{kind="users"[^}]*\} [1-9]/);
    for (const id of held.kinds.users!.held!.sample) expect(gone).toContain(id);
    expect(held.kinds.licences?.status).toBe('succeeded');
    expect(await storedUsers()).toEqual(before); // nothing deleted
    const renamed = await mongo.db.collection('users').findOne({ tenantId, externalId: half.users[0]!.id });
    expect((renamed!.data as { displayName: string }).displayName).toBe('Renamed While Held');

    // One of the gone users comes back and a later run sees it (it still holds the rest back).
    const back = full.users.find((u) => u.id === gone[0])!;
    const withBack = structuredClone(half);
    withBack.users.push(structuredClone(back));
    sim.setDataset(withBack);
    const later = await sync('later');
    expect(later.status).toBe('needs_review');
    expect(later.kinds.users?.held?.wouldDelete).toBe(gone.length - 1);

    // Approving the first run deletes exactly its recorded users still unseen since: not the one back.
    const approval = await approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice@test' });
    expect(approval.deleted).toEqual({ users: gone.length - 1 });
    expect(await storedUsers()).toEqual(ids(withBack));
    expect(approval.run.status).toBe('succeeded');
    expect(approval.run.kinds.users).toMatchObject({
      status: 'succeeded',
      deleted: gone.length - 1,
      held: { approval: { by: 'alice@test', deleted: gone.length - 1 } },
    });
    // Approving twice deletes nothing more.
    await expect(approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice@test' })).rejects.toThrow(
      /no deletions waiting/,
    );
    // The later run's held set is now empty: approving it deletes nothing.
    expect((await approveDeletes({ stores }, { runId: later.id, approvedBy: 'bob@test' })).deleted).toEqual({
      users: 0,
    });
  });

  it('resolves the threshold: tenant, then hierarchy place, then global', async () => {
    await protection.set({ global: true }, 'graph', { count: 0 });
    // The CLI, as an operator sets it; a bad value is refused with the field named.
    const bad = await cli(
      cliEnv,
      'protection',
      'set',
      '--hierarchy',
      'demo.provider',
      '--source',
      'graph',
      '--percent',
      '160',
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/percent: must be a number from 0 to 100/);
    const set = await cli(
      cliEnv,
      'protection',
      'set',
      '--hierarchy',
      'demo.provider',
      '--source',
      'graph',
      '--percent',
      '60',
    );
    expect(set).toMatchObject({ code: 0, out: 'graph: 60 % at hierarchy:demo.provider' });
    const shown = await cli(cliEnv, 'protection', 'show', '--tenant', tenantId);
    expect(shown.err).toBe('');
    expect(shown.out).toMatch(/graph\s+60 % \(from hierarchy:demo.provider\)/);
    let ds = withoutUsers(sim.dataset(), (i) => i < 20);
    sim.setDataset(ds);
    let run = await sync('hierarchy');
    expect(run.status).toBe('succeeded');
    expect(run.kinds.users?.deleted).toBe(20);

    await protection.set({ tenantId }, 'graph', { count: 2 });
    ds = withoutUsers(sim.dataset(), (i) => i < 3);
    sim.setDataset(ds);
    run = await sync('tenant');
    expect(run.status).toBe('needs_review');
    expect(run.kinds.users?.held).toMatchObject({ wouldDelete: 3, limit: 2, origin: 'tenant' });

    await protection.clear({ tenantId });
    await protection.clear({ hierarchy: 'demo.provider' });
    run = await sync('global');
    expect(run.status).toBe('needs_review');
    expect(run.kinds.users?.held).toMatchObject({ wouldDelete: 3, limit: 0, origin: 'global' });
    await protection.clear({ global: true });
    run = await sync('default');
    expect(run.status).toBe('succeeded');
    expect(run.kinds.users?.deleted).toBe(3);
    expect(await storedUsers()).toEqual(ids(ds));
  });

  it('approves over the API, once, and the run shows who approved', async () => {
    const api = buildApi({ stores, syncQueue: queue, authentication: { tokens: stores.tokens } });
    const base = await api.listen({ port: 0, host: '127.0.0.1' });
    // The approver is the token's name: the API records who called, not what a body claims.
    const { token } = await stores.tokens.create({ name: 'dave@api', role: 'operator', scope: '*' }, 'test');
    const authorization = `Bearer ${token}`;
    try {
      await protection.set({ tenantId }, 'graph', { count: 0 });
      const next = withoutUsers(sim.dataset(), (i) => i < 2);
      sim.setDataset(next);
      const held = await sync('api');
      expect(held.status).toBe('needs_review');
      const listed = (await (
        await fetch(`${base}/runs?tenant=${tenantId}&status=needs_review`, { headers: { authorization } })
      ).json()) as {
        id: string;
      }[];
      expect(listed.map((r) => r.id)).toContain(held.id);
      const post = () =>
        fetch(`${base}/runs/${held.id}/approve-deletes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({}),
        });
      const approved = await post();
      expect(approved.status).toBe(200);
      expect(((await approved.json()) as { deleted: Record<string, number> }).deleted).toEqual({ users: 2 });
      expect((await post()).status).toBe(409);
      const run = (await (
        await fetch(`${base}/runs/${held.id}`, { headers: { authorization } })
      ).json()) as SyncRun;
      expect(run.status).toBe('succeeded');
      expect(run.kinds.users?.held?.approval).toMatchObject({ by: 'dave@api', deleted: 2 });
      expect(await storedUsers()).toEqual(ids(next));
      // `runs show` prints the approval.
      expect((await cli(cliEnv, 'runs', 'show', held.id)).out).toMatch(
        /2 held deletions approved by dave@api/,
      );
    } finally {
      await api.close();
      await protection.clear({ tenantId });
    }
  });
});
