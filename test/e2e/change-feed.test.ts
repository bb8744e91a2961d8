/**
 * The change feed end to end: a first pull records one baseline marker per kind; after the simulated
 * tenant changes, a full pull records exactly the objects it created, updated (with the names of the
 * top-level fields that changed) and deleted, per kind (Graph, Teams and voice kinds); an unchanged
 * re-sync records nothing. The oracle is the store itself, read in full before and after the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';
import type { Change } from '../../domain/changes.js';
import { changeDataset } from '../../simulators/dataset.js';
import { buildApi } from '../../api/server.js';
import { approveDeletes } from '../../operations/approve-deletes.js';
import { cli } from '../support/cli.js';
import { spawnCli } from '../support/child-process.js';
import { startEngine, type Engine } from './support/engine.js';
import { committedChanges, expectedChanges, storeSnapshot } from './support/snapshots.js';

describe('the change feed of full pulls', { timeout: 240_000 }, () => {
  let engine: Engine;
  let tenantId: string;

  const snapshot = () => storeSnapshot(engine, tenantId);

  const described = (changes: readonly Change[]) =>
    changes
      .map((c) =>
        [c.kind, c.op, c.externalId, ...(c.op === 'updated' ? [(c.fields ?? ['?']).join(',')] : [])]
          .filter((part) => part !== undefined)
          .join(' '),
      )
      .sort();

  /** Every committed change after `after`, paged. */
  const feed = (after = 0): Promise<Change[]> => committedChanges(engine, tenantId, after, 50);

  beforeAll(async () => {
    engine = await startEngine('e2e-changes', { dataset: { seed: 21, users: 60 }, enableExchange: true });
    tenantId = (await engine.stores.tenants.add(engine.sim.tenantInput)).id;
  }, 120_000);

  afterAll(async () => engine?.close());

  let afterFirst = 0;
  let secondRunId = '';

  it('records one baseline marker per kind on the first pull, no row per object', async () => {
    const run = await engine.sync(tenantId, 'first');
    expect(run.status).toBe('succeeded');
    const changes = await feed();
    expect(changes.every((c) => c.op === 'baseline' && c.runId === run.id)).toBe(true);
    expect(changes.map((c) => c.kind).sort()).toEqual(ENTITY_KINDS.map((k) => k.kind).sort());
    afterFirst = await engine.stores.changes.committed(tenantId);
    expect(afterFirst).toBe(ENTITY_KINDS.length);
  });

  it('records exactly what the next full pull created, updated (with field names) and deleted', async () => {
    const before = await snapshot();
    engine.sim.setDataset(
      changeDataset(engine.sim.dataset(), {
        addUsers: 3,
        removeUsers: 2,
        renameUsers: 2,
        licenseUsers: 2,
        unlicenseUsers: 1,
        removePolicies: 1,
        addGroups: 1,
        renameGroups: 1,
        removeGroups: 1,
      }),
    );
    const run = await engine.sync(tenantId, 'second');
    expect(
      Object.entries(run.kinds)
        .filter(([, r]) => r.error)
        .map(([k, r]) => `${k}: ${r.error?.message}`),
    ).toEqual([]);
    expect(run.status).toBe('succeeded');
    secondRunId = run.id;
    const after = await snapshot();
    const expected = expectedChanges(before, after, { fields: true });
    const changes = await feed(afterFirst);
    expect(changes.every((c) => c.runId === run.id)).toBe(true);
    expect(described(changes)).toEqual(expected);
    // The oracle is not vacuous: Graph, Teams and voice kinds changed, in every operation.
    const kindsOps = new Set(changes.map((c) => `${c.kind} ${c.op}`));
    for (const seen of [
      'users created',
      'users updated',
      'users deleted',
      'groups updated',
      'policies deleted',
    ])
      expect(kindsOps, seen).toContain(seen);
    expect(changes.some((c) => c.kind === 'teams_users')).toBe(true);
    const renamed = changes.find((c) => c.kind === 'users' && c.fields?.includes('displayName'));
    expect(renamed?.fields).toEqual(['displayName']);
    // The run's counts agree with its records.
    const recorded = (kind: string, op: string) =>
      changes.filter((c) => c.kind === kind && c.op === op).length;
    for (const [kind, result] of Object.entries(run.kinds)) {
      expect(recorded(kind, 'created'), kind).toBe(result.created);
      expect(recorded(kind, 'updated'), kind).toBe(result.updated);
      expect(recorded(kind, 'deleted'), kind).toBe(result.deleted);
    }
    // Sequence numbers follow one another without gaps.
    const { decodeCursor } = await import('../../domain/changes.js');
    expect(changes.map((c) => decodeCursor(c.cursor))).toEqual(changes.map((_, i) => afterFirst + i + 1));
  });

  it('records nothing for an unchanged re-sync', async () => {
    const committed = await engine.stores.changes.committed(tenantId);
    const run = await engine.sync(tenantId, 'third');
    expect(run.status).toBe('succeeded');
    expect(await engine.stores.changes.committed(tenantId)).toBe(committed);
    expect(await engine.stores.changes.records.countDocuments({ runId: run.id })).toBe(0);
    const summary = await engine.stores.changes.ofRuns([secondRunId, run.id]);
    expect(summary.get(run.id)).toBeUndefined();
    // The run-completion webhook's summary: counts per operation, and a cursor range that reads back
    // exactly the run's changes.
    const second = (await feed(afterFirst)).filter((c) => c.runId === secondRunId);
    const ofSecond = summary.get(secondRunId)!;
    for (const op of ['created', 'updated', 'deleted', 'baseline'] as const)
      expect(ofSecond[op], op).toBe(second.filter((c) => c.op === op).length);
    const { decodeCursor } = await import('../../domain/changes.js');
    expect(ofSecond.after).not.toBeNull();
    const fromAfter = (await feed(decodeCursor(ofSecond.after!))).filter(
      (c) => decodeCursor(c.cursor) <= decodeCursor(ofSecond.last!),
    );
    expect(fromAfter).toEqual(second);
  });

  it('serves the feed to a viewer within scope (404 outside it) and to `m365sync changes --json`', async () => {
    const tenant = await engine.stores.tenants.show(tenantId);
    const inScope = (
      await engine.stores.tokens.create({ name: 'feed-reader', role: 'viewer', scope: tenant.hierarchy }, 't')
    ).token;
    const outOfScope = (
      await engine.stores.tokens.create({ name: 'elsewhere', role: 'viewer', scope: 'nowhere.else' }, 't')
    ).token;
    const app = buildApi({
      stores: engine.stores,
      authentication: { tokens: engine.stores.tokens },
      checkResponses: true,
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const get = (token: string, query: string) =>
        fetch(`${base}/tenants/${tenantId}/changes?${query}`, {
          headers: { authorization: `Bearer ${token}` },
        });
      const afterCursor = (await import('../../domain/changes.js')).encodeCursor(afterFirst);
      const page = await get(inScope, `after=${afterCursor}&kinds=users&ops=updated&limit=2`);
      expect(page.status).toBe(200);
      const body = (await page.json()) as { changes: Change[]; cursor: string; more: boolean };
      expect(body.changes).toHaveLength(2);
      expect(
        body.changes.every((c) => c.kind === 'users' && c.op === 'updated' && c.runId === secondRunId),
      ).toBe(true);
      expect(body.more).toBe(true);
      const wanted = (await feed(afterFirst)).filter((c) => c.kind === 'users' && c.op === 'updated');
      expect(body.changes).toEqual(wanted.slice(0, 2));
      expect((await get(outOfScope, '')).status).toBe(404);
      const bad = await get(inScope, 'after=bogus&ops=moved');
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/after.*ops|ops.*after/s);
    } finally {
      await app.close();
    }

    const env = engine.cliEnv('cli-reader');
    const byRun = await cli(env, 'changes', tenantId, '--run', secondRunId, '--json');
    expect(byRun.code, byRun.err).toBe(0);
    const doc = JSON.parse(byRun.out) as { tenantId: string; changes: Change[]; cursor: string };
    expect(doc.tenantId).toBe(tenantId);
    expect(described(doc.changes)).toEqual(described(await feed(afterFirst)));
    const rest = await cli(env, 'changes', tenantId, '--after', doc.cursor, '--json');
    expect(JSON.parse(rest.out)).toEqual({ tenantId, changes: [], cursor: doc.cursor });
    const plain = await cli(env, 'changes', tenantId, '--kinds', 'policies');
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/policies\s+deleted/);
    expect(plain.err).toMatch(/--after c1\./);
  });

  it('records a held sweep’s deletions when they are approved, under the held run', async () => {
    const committed = await engine.stores.changes.committed(tenantId);
    const ds = engine.sim.dataset();
    const removed = ds.users
      .slice(0, 20)
      .map((u) => u.id)
      .sort();
    engine.sim.setDataset({ ...ds, users: ds.users.slice(20) });
    const run = await engine.sync(tenantId, 'held', ['licences', 'users']);
    expect(run.status).toBe('needs_review');
    expect(described(await feed(committed))).toEqual([]); // nothing deleted, nothing recorded
    await approveDeletes(engine, { runId: run.id, approvedBy: 'approver' });
    const changes = await feed(committed);
    expect(changes.every((c) => c.runId === run.id && c.kind === 'users' && c.op === 'deleted')).toBe(true);
    expect(changes.map((c) => c.externalId).sort()).toEqual(removed);
  });

  it('`m365sync changes --follow --json` prints each new change as it is committed, one per line', async () => {
    const { encodeCursor } = await import('../../domain/changes.js');
    const from = encodeCursor(await engine.stores.changes.committed(tenantId));
    const child = spawnCli(
      ['changes', tenantId, '--after', from, '--follow', '--interval', '1s', '--json'],
      engine.cliEnv('follower'),
    );
    let stdout = '';
    let stderr = '';
    const waiters: (() => void)[] = [];
    const changed = () => waiters.splice(0).forEach((w) => w());
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), changed()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), changed()));
    child.once('close', changed);
    const until = async (done: () => boolean) => {
      while (!done()) {
        if (child.exitCode !== null) throw new Error(`changes --follow ended: ${stderr}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    try {
      await until(() => stderr.includes('up to date'));
      expect(stdout).toBe('');
      const ds = engine.sim.dataset();
      const renamed = ds.users[0]!.id;
      ds.users[0]!.displayName = `${ds.users[0]!.displayName} (followed)`;
      engine.sim.setDataset(ds);
      const run = await engine.sync(tenantId, 'followed', ['licences', 'users']);
      await until(() => stdout.includes(renamed));
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Change);
      expect(lines.map((c) => [c.runId, c.kind, c.op, c.externalId, c.fields])).toEqual([
        [run.id, 'users', 'updated', renamed, ['displayName']],
      ]);
    } finally {
      child.kill();
    }
  });
});
