/**
 * Kind lists and purge end to end: the real CLI and API over real Redis, the MongoDB-wire server, the
 * simulated tenant and a worker. A limited sync touches only its kinds; a purge removes only what it
 * says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';
import { BUILT_IN_KIND_LISTS } from '../../domain/kind-lists.js';
import type { SimulatedTenant } from '../../simulators/m365.js';
import { cli } from '../support/cli.js';
import type { TestMongo } from '../support/services.js';
import { startEngine, type Engine } from './support/engine.js';

describe('kind lists and purge end to end', { timeout: 180_000 }, () => {
  let engine: Engine;
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let app: FastifyInstance;
  let base: string;
  let env: NodeJS.ProcessEnv;
  let a: string;
  let b: string;

  /** Documents per kind of one tenant, and the run ids stamped on them. */
  const snapshot = async (tenantId: string) => {
    const out: Record<string, { count: number; runs: string[] }> = {};
    for (const k of ENTITY_KINDS) {
      const docs = await mongo.db
        .collection(k.collection)
        .find({ tenantId }, { projection: { syncRunId: 1 } })
        .toArray();
      out[k.kind] = { count: docs.length, runs: [...new Set(docs.map((d) => String(d.syncRunId)))].sort() };
    }
    return out;
  };
  const counts = async (tenantId: string) =>
    Object.fromEntries(Object.entries(await snapshot(tenantId)).map(([k, v]) => [k, v.count]));
  const runOf = async (jobId: string, tenantId: string): Promise<SyncRun> =>
    (await engine.runOf(jobId, tenantId)).run;
  let token: string;
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    engine = await startEngine('e2e-kinds', { dataset: { seed: 31, users: 60 }, enableExchange: true });
    ({ sim, mongo } = engine);
    const { stores, queue } = engine;
    a = (await stores.tenants.add(sim.tenantInput)).id;
    b = (await stores.tenants.add({ ...sim.tenantInput, Tenant: { name: 'Second Copy' } })).id;
    env = engine.cliEnv('tester@cli');
    token = (await stores.tokens.create({ name: 'kinds-test', role: 'admin', scope: '*' }, 'test')).token;
    app = buildApi({ stores, syncQueue: queue, authentication: { tokens: stores.tokens } });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await engine?.close();
  });

  it('a --kinds users,licences sync touches no other collection and sweeps only those kinds', async () => {
    // The CLI, as an operator types it, waiting for the run.
    const first = await cli(env, 'sync', a, '--kinds', 'users,licences', '--wait');
    expect(first.err).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const [run] = await new SyncRunStore(mongo.db).list({ tenantId: a, limit: 1 });
    expect(run!.status).toBe('succeeded');
    expect(run!.kindsRequested).toEqual(['users', 'licences']);
    expect(Object.keys(run!.kinds).sort()).toEqual(['licences', 'users']);
    const ds = sim.dataset();
    expect(await counts(a)).toEqual(
      Object.fromEntries(
        ENTITY_KINDS.map((k) => [
          k.kind,
          k.kind === 'users' ? ds.users.length : k.kind === 'licences' ? ds.skus.length : 0,
        ]),
      ),
    );

    // A full pull through the API, then a licensing pull after users left: the other kinds keep the
    // full pull's documents and stamps, and only users are swept.
    const full = await api('POST', `/tenants/${a}/sync`, {});
    expect(full.status).toBe(202);
    const fullRun = await runOf(((await full.json()) as { jobId: string }).jobId, a);
    expect(fullRun.status).toBe('succeeded');
    expect(fullRun.requestedBy).toBe('kinds-test');
    const before = await snapshot(a);

    const next = structuredClone(sim.dataset());
    next.users.splice(0, 3);
    sim.setDataset(next);
    const limited = await api('POST', `/tenants/${a}/sync`, { kinds: 'licensing' });
    expect(limited.status).toBe(202);
    const body = (await limited.json()) as { jobId: string; kinds: string[] };
    expect(body.kinds).toEqual([...BUILT_IN_KIND_LISTS.licensing]);
    const limitedRun = await runOf(body.jobId, a);
    expect(Object.keys(limitedRun.kinds).sort()).toEqual(['licences', 'users']);
    expect(limitedRun.kinds.users).toMatchObject({ status: 'succeeded', deleted: 3 });
    const after = await snapshot(a);
    for (const k of ENTITY_KINDS) {
      if (k.kind === 'users' || k.kind === 'licences') {
        // Unchanged objects are not rewritten: they keep the full pull's stamp.
        expect(after[k.kind]!.count, k.kind).toBe(before[k.kind]!.count - (k.kind === 'users' ? 3 : 0));
        expect(limitedRun.kinds[k.kind]!.unchanged, k.kind).toBe(after[k.kind]!.count);
      } else {
        // Teams users whose Graph user left are not swept by a licensing run: not its kind.
        expect(after[k.kind], k.kind).toEqual(before[k.kind]);
      }
    }
    expect(after.users!.count).toBe(before.users!.count - 3);
  });

  it('refuses an unknown kind in the API and the CLI, and resolves custom lists', async () => {
    const bad = await api('POST', `/tenants/${a}/sync`, { kinds: 'users,licenses' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: { message: string }[] }).problems[0]!.message).toContain(
      '"licenses"',
    );
    const cliBad = await cli(env, 'sync', a, '--kinds', 'nonsense');
    expect(cliBad.code).toBe(2);

    expect((await cli(env, 'kinds', 'set', 'hourly', 'licensing,mailboxes')).out).toBe(
      'hourly: users,licences,mailboxes',
    );
    expect((await cli(env, 'kinds', 'set', 'users', 'licences')).code).toBe(2); // a kind's name
    const listed = JSON.parse((await cli(env, 'kinds', 'list', '--json')).out) as { name: string }[];
    expect(listed.map((l) => l.name)).toEqual(['licensing', 'voice', 'exchange', 'full', 'hourly']);
    const res = await api('POST', `/tenants/${b}/sync`, { kinds: 'hourly' });
    const run = await runOf(((await res.json()) as { jobId: string }).jobId, b);
    expect(Object.keys(run.kinds).sort()).toEqual(['licences', 'mailboxes', 'users']);
    expect((await cli(env, 'kinds', 'remove', 'hourly')).code).toBe(0);
    expect((await api('POST', `/tenants/${b}/sync`, { kinds: 'hourly' })).status).toBe(400);
  });

  it('purge removes what it says and nothing else, recorded as a run', async () => {
    const full = await api('POST', `/tenants/${b}/sync`, {});
    expect((await runOf(((await full.json()) as { jobId: string }).jobId, b)).status).toBe('succeeded');
    const aBefore = await counts(a);
    const bBefore = await counts(b);
    expect(Object.values(aBefore).every((n) => n > 0)).toBe(true);

    expect((await cli(env, 'tenants', 'purge', a, '--kinds', 'voice')).code).toBe(1); // needs --yes
    expect(await counts(a)).toEqual(aBefore);
    const purged = await cli(env, 'tenants', 'purge', a, '--kinds', 'voice', '--yes');
    expect(purged.code).toBe(0);
    const voice = new Set<string>(BUILT_IN_KIND_LISTS.voice);
    const aAfter = await counts(a);
    for (const k of ENTITY_KINDS)
      expect(aAfter[k.kind], k.kind).toBe(voice.has(k.kind) ? 0 : aBefore[k.kind]);
    expect(await counts(b)).toEqual(bBefore);
    const [record] = await new SyncRunStore(mongo.db).list({ tenantId: a, limit: 1 });
    expect(record).toMatchObject({ trigger: 'purge', status: 'succeeded', requestedBy: 'tester@cli' });
    expect(record!.kinds.teams_users?.deleted).toBe(aBefore.teams_users);

    // Removing the tenant asks; --purge deletes the rest of its data, the other tenant keeps all.
    expect((await cli(env, 'tenants', 'remove', a, '--yes')).code).toBe(2);
    expect((await cli(env, 'tenants', 'remove', a, '--purge', '--yes')).code).toBe(0);
    expect(Object.values(await counts(a)).every((n) => n === 0)).toBe(true);
    expect(await counts(b)).toEqual(bBefore);

    // The API: DELETE with ?data=purge removes the tenant and its data; a bad value is refused.
    expect((await api('DELETE', `/tenants/${b}?data=drop`)).status).toBe(400);
    expect((await api('DELETE', `/tenants/${b}?data=purge`)).status).toBe(200);
    expect(Object.values(await counts(b)).every((n) => n === 0)).toBe(true);
  });
});
