/**
 * Delta sync end to end, on the simulated tenant: a full pull seeds the delta states; the tenant then
 * changes (users created, renamed, licensed and unlicensed, soft- and hard-deleted; groups created,
 * renamed, memberships changed); a delta run lands exactly those changes, after which the stored
 * users, groups and teams equal, field for field, what a full pull stores (a full pull right after it
 * changes nothing). An expired state and a 410 each make the kind fall back to a full pull with the
 * reason recorded; a mass removal through delta is held and can be approved; the change feed lists
 * exactly what each run changed; and the delta link never shows in a log line, a run record, the
 * job's data or the metrics.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncRun } from '../../domain/sync-run.js';
import { approveDeletes } from '../../operations/approve-deletes.js';
import { registry } from '../../observability/metrics.js';
import { changeDataset } from '../../simulators/dataset.js';
import { startEngine, type Engine } from './support/engine.js';
import { committedChanges, expectedChanges, storeSnapshot } from './support/snapshots.js';

const DELTA_KINDS = ['users', 'groups', 'teams'] as const;
/** What a delta run writes: the delta kinds, and the licences it polls in full. */
const RUN_KINDS = [...DELTA_KINDS, 'licences'] as const;

describe('delta sync', { timeout: 240_000 }, () => {
  let engine: Engine;
  let tenantId: string;
  const logLines: string[] = [];

  const snapshot = () => storeSnapshot(engine, tenantId, RUN_KINDS);

  const changesOf = async (runId: string): Promise<string[]> =>
    (await committedChanges(engine, tenantId, 0, 100))
      .filter((c) => c.runId === runId && c.op !== 'baseline')
      .map((c) => `${c.kind} ${c.op} ${c.externalId}`)
      .sort();

  const delta = (by: string) => engine.sync(tenantId, by, undefined, 'delta');
  const full = (by: string) => engine.sync(tenantId, by);
  const kindErrors = (run: SyncRun) =>
    Object.entries(run.kinds)
      .filter(([, r]) => r.error && r.status !== 'needs_review')
      .map(([k, r]) => `${k}: ${r.error?.code} ${r.error?.message}`);

  /** A full pull now changes nothing of users, groups and teams: the store is what a full pull stores. */
  const expectEqualsFullPull = async () => {
    const before = await snapshot();
    const run = await full('check');
    expect(kindErrors(run)).toEqual([]);
    for (const kind of DELTA_KINDS)
      expect({ kind, ...run.kinds[kind], durationMs: 0 }).toMatchObject({
        kind,
        created: 0,
        updated: 0,
        deleted: 0,
      });
    expect(await snapshot()).toEqual(before);
  };

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    engine = await startEngine('e2e-delta', {
      dataset: { seed: 31, users: 60 },
      // Graph's documented quirks: an object twice in one round, a change sent again in the next.
      simulator: { graphDelta: { duplicateChance: 0.3, replayChance: 0.3, pageSize: 7 } },
      logger: pino({ level: 'debug' }, sink),
    });
    tenantId = (await engine.stores.tenants.add(engine.sim.tenantInput)).id;
  }, 120_000);

  afterAll(async () => engine?.close());

  it('seeds a delta state per kind with the first full pull', async () => {
    const run = await full('first');
    expect(run.status).toBe('succeeded');
    for (const kind of DELTA_KINDS) {
      const read = await engine.stores.deltaStates.get(tenantId, kind);
      expect(read.state?.link, kind).toContain('delta');
    }
    // At rest the link is encrypted: the stored documents hold no token.
    const docs = await engine.mongo.db.collection('delta_states').find({ tenantId }).toArray();
    expect(docs).toHaveLength(3);
    expect(JSON.stringify(docs)).not.toMatch(/deltatoken|skiptoken|https?:/i);
  });

  it('lands exactly the changes made, and the store then equals a full pull', async () => {
    const before = await snapshot();
    engine.sim.setDataset(
      changeDataset(engine.sim.dataset(), {
        addUsers: 2,
        renameUsers: 2,
        licenseUsers: 2,
        unlicenseUsers: 1,
        softDeleteUsers: 1,
        removeUsers: 1,
        addGroups: 1,
        renameGroups: 1,
        addMembers: 2,
        removeMembers: 1,
      }),
    );
    const run = await delta('delta-1');
    expect(kindErrors(run)).toEqual([]);
    expect(run.status).toBe('succeeded');
    expect(run.mode).toBe('delta');
    expect(Object.keys(run.kinds).sort()).toEqual(['groups', 'licences', 'teams', 'users']);
    for (const kind of DELTA_KINDS) expect(run.kinds[kind]?.sync, kind).toBe('delta');
    const after = await snapshot();
    const expected = expectedChanges(before, after);
    // What the data set change does to the directory, seen in the store.
    expect(expected.filter((c) => c.startsWith('users created'))).toHaveLength(2);
    expect(expected.filter((c) => c.startsWith('users deleted'))).toHaveLength(2);
    expect(expected.filter((c) => c.startsWith('users updated')).length).toBeGreaterThanOrEqual(5);
    expect(expected.filter((c) => c.startsWith('groups created'))).toHaveLength(1);
    expect(expected.filter((c) => c.startsWith('groups updated')).length).toBeGreaterThanOrEqual(1);
    // The feed lists exactly what the run changed.
    expect(await changesOf(run.id)).toEqual(expected);
    await expectEqualsFullPull();
  });

  it('changes nothing, reads little and records nothing when nothing changed', async () => {
    const run = await delta('delta-quiet');
    expect(run.status).toBe('succeeded');
    for (const kind of DELTA_KINDS)
      expect(run.kinds[kind], kind).toMatchObject({ created: 0, updated: 0, deleted: 0, sync: 'delta' });
    expect(await changesOf(run.id)).toEqual([]);
    // Its record is marked quiet, and kept a shorter time than a run that changed something.
    expect(run.quiet).toBe(true);
    const changing = await engine.mongo.db
      .collection('sync_runs')
      .countDocuments({ tenantId, quiet: { $ne: true } });
    expect(await engine.stores.runs.pruneQuietDeltaRuns(new Date(Date.now() + 60_000))).toBe(1);
    expect(await engine.stores.runs.get(run.id)).toBeNull();
    expect(await engine.mongo.db.collection('sync_runs').countDocuments({ tenantId })).toBe(changing);
  });

  it('falls back to a full pull of a kind whose state Graph forgot (400 syncStateNotFound), saying why', async () => {
    engine.sim.setDataset(changeDataset(engine.sim.dataset(), { renameUsers: 1, renameGroups: 1 }, 901));
    engine.sim.graph.expireDeltaTokens();
    const run = await delta('delta-expired');
    expect(kindErrors(run)).toEqual([]);
    expect(run.kinds.users).toMatchObject({ sync: 'full', fallback: { reason: 'expired' } });
    expect(run.kinds.groups).toMatchObject({ sync: 'full', fallback: { reason: 'expired' } });
    expect(run.kinds.teams).toMatchObject({ sync: 'full', fallback: { reason: 'groups_fell_back' } });
    expect(run.kinds.users?.fallback?.message).toContain('syncStateNotFound');
    expect(run.kinds.users?.updated).toBe(1);
    // The fallback seeded new states: the next delta run is a round again.
    const next = await delta('delta-after-expiry');
    for (const kind of DELTA_KINDS) expect(next.kinds[kind]?.sync, kind).toBe('delta');
    await expectEqualsFullPull();
  });

  it('falls back when Graph asks for a resynchronisation (410 Gone), saying why', async () => {
    engine.sim.setDataset(changeDataset(engine.sim.dataset(), { addUsers: 1 }, 902));
    engine.sim.graph.requireDeltaResync('users');
    const run = await delta('delta-410');
    expect(kindErrors(run)).toEqual([]);
    expect(run.kinds.users).toMatchObject({ sync: 'full', fallback: { reason: 'resync' }, created: 1 });
    expect(run.kinds.groups?.sync).toBe('delta');
    await expectEqualsFullPull();
  });

  it('holds a mass removal through delta for approval, and deletes it once approved', async () => {
    const stored = (await snapshot()).users!.size;
    engine.sim.setDataset(changeDataset(engine.sim.dataset(), { softDeleteUsers: 15 }, 903));
    const run = await delta('delta-mass');
    expect(run.status).toBe('needs_review');
    expect(run.kinds.users).toMatchObject({ status: 'needs_review', sync: 'delta', deleted: 0 });
    expect(run.kinds.users?.held?.wouldDelete).toBe(15);
    expect((await snapshot()).users!.size).toBe(stored);
    await approveDeletes(engine, { runId: run.id, approvedBy: 'approver' });
    expect((await engine.stores.runs.get(run.id))?.kinds.users?.held?.approval?.deleted).toBe(15);
    expect((await snapshot()).users!.size).toBe(stored - 15);
    await expectEqualsFullPull();
  });

  it('pulls users in full for a tenant with a Graph users filter, which delta cannot apply, saying why', async () => {
    await engine.stores.tenants.update(tenantId, {
      'Sync Filters': { graph_users_filter: "department eq 'Sales'" },
    } as never);
    const run = await delta('delta-filtered');
    expect(kindErrors(run)).toEqual([]);
    expect(run.kinds.users).toMatchObject({ sync: 'full', fallback: { reason: 'users_filter' } });
    expect(run.kinds.users?.fallback?.message).toContain('graph_users_filter');
    expect(run.kinds.groups?.sync).toBe('delta');
    // The filter leaves most users out: their removal is held, as any mass removal of a full pull.
    const sales = engine.sim.dataset().users.filter((u) => u.department === 'Sales');
    const stored = (await snapshot()).users!.size;
    expect(run.kinds.users?.status).toBe('needs_review');
    expect(run.kinds.users?.held?.wouldDelete).toBe(stored - sales.length);
  });

  it('keeps the delta link out of logs, run records, job data and metrics', async () => {
    const links = await Promise.all(
      DELTA_KINDS.map(async (kind) => (await engine.stores.deltaStates.get(tenantId, kind)).state!.link),
    );
    const tokens = links.map((link) => new URL(link).searchParams.get('$deltatoken') ?? link);
    expect(tokens.every((t) => t.length >= 8)).toBe(true);
    const runs = JSON.stringify(await engine.mongo.db.collection('sync_runs').find({ tenantId }).toArray());
    const jobs = JSON.stringify(
      await engine.queue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized']),
    );
    const metrics = await registry.metrics();
    const logs = logLines.join('');
    expect(logs).toContain('delta run: kind pulled in full');
    for (const where of [logs, runs, jobs, metrics]) {
      for (const token of tokens) expect(where.includes(token)).toBe(false);
      expect(where).not.toMatch(/\$deltatoken=|deltatoken%3D/i);
    }
  });
});
