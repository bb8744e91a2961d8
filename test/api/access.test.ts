/**
 * Access control of the operator API over real HTTP: scopes and roles on every route. Both tables are
 * checked against the API's own route table, so a route added without an entry here fails the test.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { RouteAccess } from '../../api/access.js';
import { buildApi } from '../../api/server.js';
import { DeleteProtectionStore } from '../../connectors/mongo/delete-protection.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { Role } from '../../domain/access.js';
import { schedulerId } from '../../queues/schedules.js';
import type { SyncJobData } from '../../queues/sync-queue.js';
import type { Stores } from '../../connectors/mongo/stores.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { validTenantInput } from '../support/fixtures.js';
import type { TestMongo } from '../support/services.js';

let api: TestApi;
let mongo: TestMongo;
let queue: Queue<SyncJobData, unknown, string>;
let triggerQueue: Queue;
let stores: Stores;
let app: FastifyInstance;
let base: string;

/** Tokens by name; `a-*` are scoped to provider.resellerA, `all-*` see everything. */
const token: Record<string, string> = {};
/** What the tests put under provider.resellerB, which a provider.resellerA token must never learn. */
const B = { tenant: '', other: '', run: '', webhook: '' };
let aTenant = '';
let aRun = '';
/** Strings that would tell a resellerA caller that resellerB exists or what it holds. */
let bMarkers: string[] = [];

const GHOST_ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';

beforeAll(async () => {
  // Every route is probed with a forged token, more than the default failed sign-ins per address
  // (test/api/request-checks.test.ts tests that limit).
  api = await startTestApi('api-access', undefined, {
    board: true,
    failedAuthLimit: { max: 10_000, timeWindowMs: 60_000 },
  });
  ({ mongo, stores, queue, triggerQueue, app, base } = api);

  const add = (hierarchy: string, name: string) =>
    stores.tenants.add(validTenantInput({ hierarchy, Tenant: { name } }));
  aTenant = (await add('provider.resellerA.cust1', 'Shared Name')).id;
  B.tenant = (await add('provider.resellerB.cust2', 'Shared Name')).id;
  B.other = (await add('provider.resellerB.cust3', 'Beta Secret Customer')).id;

  const runs = new SyncRunStore(mongo.db);
  const heldRun = async (tenantId: string, hierarchy: string, jobId: string) => {
    const run = await runs.recordQueued({
      id: new ObjectId().toHexString(),
      tenantId,
      hierarchy,
      trigger: 'api',
      requestedBy: 'seed',
      jobId,
    });
    await runs.finish(run.id, {
      status: 'needs_review',
      kinds: {
        users: {
          status: 'needs_review',
          created: 0,
          updated: 0,
          unchanged: 5,
          deleted: 0,
          durationMs: 1,
          held: {
            wouldDelete: 3,
            stored: 8,
            limit: 0,
            threshold: '0 objects',
            origin: 'tenant',
            sample: ['x'],
            fence: 1,
          },
        },
      },
    });
    return run.id;
  };
  aRun = await heldRun(aTenant, 'provider.resellerA.cust1', 'job-a');
  B.run = await heldRun(B.tenant, 'provider.resellerB.cust2', 'job-b');

  const protection = new DeleteProtectionStore(mongo.db);
  await protection.set({ tenantId: B.tenant }, 'graph', { count: 7 });
  await protection.set({ hierarchy: 'provider.resellerB' }, 'graph', { count: 9 });
  await protection.set({ hierarchy: 'provider' }, 'graph', { count: 11 });
  await protection.set({ tenantId: aTenant }, 'graph', { count: 13 });

  for (const [name, role, scope] of [
    ['a-viewer', 'viewer', 'provider.resellerA'],
    ['a-operator', 'operator', 'provider.resellerA'],
    ['a-admin', 'admin', 'provider.resellerA'],
    ['b-viewer', 'viewer', 'provider.resellerB'],
    ['all-viewer', 'viewer', '*'],
    ['all-operator', 'operator', '*'],
    ['all-admin', 'admin', '*'],
  ] as const)
    token[name] = (await stores.tokens.create({ name, role, scope }, 'test')).token;

  await stores.destinations.allow('webhook', 'portal.example');
  B.webhook = (
    await stores.webhooks.create(
      { name: 'b-portal', url: 'https://portal.example/b', scope: 'provider.resellerB' },
      'seed',
    )
  ).id;
  // Names B uses that A may use too (not markers: A's own namesakes carry them).
  await stores.tokens.create({ name: 'hidden-name', role: 'viewer', scope: 'provider.resellerB' }, 'seed');
  await stores.webhooks.create(
    { name: 'hidden-hook', url: 'https://portal.example/b2', scope: 'provider.resellerB' },
    'seed',
  );
  await stores.webhooks.create({ name: 'a-portal-hook', url: 'https://portal.example/a' }, 'seed', {
    within: 'provider.resellerA',
  });

  bMarkers = [
    'resellerB',
    B.tenant,
    B.other,
    B.run,
    'Beta Secret Customer',
    'b-viewer',
    'b-portal',
    B.webhook,
  ];
}, 60_000);

afterAll(async () => {
  await api?.close();
});

interface Answer {
  status: number;
  text: string;
  json: { code?: string; message?: string; problems?: { field: string }[] } & Record<string, unknown>;
}

async function call(as: string | null, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(as ? { authorization: `Bearer ${token[as] ?? as}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = {} as Answer['json'];
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    // /metrics is text
  }
  return { status: response.status, text, json };
}

/** Nothing of resellerB in an answer (beyond the reference the caller sent itself). */
function expectNothingOfB(answer: Answer, sent = ''): void {
  const text = sent ? answer.text.split(sent).join('<sent>') : answer.text;
  for (const marker of bMarkers) expect(text, `answer mentions ${marker}`).not.toContain(marker);
}

/** B's tenant named every way a caller can name it. */
const bRefs = () => [B.tenant, 'provider.resellerB.cust2/Shared Name', 'Beta Secret Customer', B.other];

/**
 * A request about something of resellerB answers exactly as the same request about something that
 * does not exist: 404, same code, same message but for the reference.
 */
async function expectLikeNothing(
  method: string,
  path: (ref: string) => string,
  refs: string[],
  body?: unknown,
) {
  const ghost = await call('a-admin', method, path('no-such-thing'), body);
  expect(ghost.status).toBe(404);
  for (const ref of refs) {
    const answer = await call('a-admin', method, path(encodeURIComponent(ref)), body);
    expect(answer.status, `${method} ${path(ref)}`).toBe(404);
    expect(answer.json.code).toBe(ghost.json.code);
    expect(answer.json.message?.split(ref).join('<ref>')).toBe(
      ghost.json.message?.replace('no-such-thing', '<ref>'),
    );
    expectNothingOfB(answer, ref);
  }
}

async function bUntouched(): Promise<void> {
  const tenant = await stores.tenants.show(B.tenant);
  expect(tenant.Tenant.name).toBe('Shared Name');
  expect(tenant.hierarchy).toBe('provider.resellerB.cust2');
  expect(await stores.tenants.show(B.other)).toBeDefined();
  const run = await new SyncRunStore(mongo.db).get(B.run);
  expect(run?.status).toBe('needs_review');
  const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  expect(jobs.filter((j) => j.data.tenantId === B.tenant || j.data.tenantId === B.other)).toEqual([]);
  expect(
    await mongo.db.collection('sync_runs').countDocuments({ tenantId: { $in: [B.tenant, B.other] } }),
  ).toBe(1);
  expect(
    await mongo.db
      .collection<{ _id: string }>('schedules')
      .countDocuments({ _id: { $in: [B.tenant, B.other] } }),
  ).toBe(0);
  expect(await triggerQueue.getJobScheduler(schedulerId(B.tenant))).toBeUndefined();
  expect(await mongo.db.collection('webhooks').countDocuments({ scope: 'provider.resellerB' })).toBe(2);
}

/**
 * The queue board's routes (Bull Board declares them; they take the board's access): the page, its
 * files and its calls, each with a request that aims at nothing (a queue that does not exist, or the
 * board's own test queue). A route the library adds on an upgrade fails the route-table test.
 */
const BOARD_ROUTES: [method: string, route: string, probe: string][] = [
  ['GET', '', ''],
  ['GET', '/metrics-history', '/metrics-history'],
  ['GET', '/job-schedulers', '/job-schedulers'],
  ['GET', '/queue/:queueName', '/queue/ghost'],
  ['GET', '/queue/:queueName/:jobId', '/queue/ghost/1'],
  ['GET', '/static/*', '/static/ghost.css'],
  ['GET', '/api/redis/stats', '/api/redis/stats'],
  ['GET', '/api/queues', '/api/queues'],
  ['GET', '/api/job-schedulers', '/api/job-schedulers'],
  ['GET', '/api/queues/:queueName/metrics', '/api/queues/ghost/metrics'],
  ['GET', '/api/queues/:queueName/default-job-options', '/api/queues/ghost/default-job-options'],
  ['GET', '/api/queues/:queueName/workers', '/api/queues/ghost/workers'],
  ['GET', '/api/queues/:queueName/rate-limit', '/api/queues/ghost/rate-limit'],
  ['GET', '/api/queues/:queueName/job-data-schema', '/api/queues/ghost/job-data-schema'],
  ['PUT', '/api/queues/pause', '/api/queues/pause'],
  ['PUT', '/api/queues/resume', '/api/queues/resume'],
  ['GET', '/api/queues/:queueName/:jobId/logs', '/api/queues/ghost/1/logs'],
  ['GET', '/api/queues/:queueName/:jobId/flow', '/api/queues/ghost/1/flow'],
  ['GET', '/api/queues/:queueName/:jobId', '/api/queues/ghost/1'],
  ['POST', '/api/queues/:queueName/add', '/api/queues/ghost/add'],
  ['PUT', '/api/queues/:queueName/retry/:queueStatus', '/api/queues/ghost/retry/failed'],
  ['PUT', '/api/queues/:queueName/promote', '/api/queues/ghost/promote'],
  ['PUT', '/api/queues/:queueName/clean/:queueStatus', '/api/queues/ghost/clean/failed'],
  ['PUT', '/api/queues/:queueName/pause', '/api/queues/ghost/pause'],
  ['PUT', '/api/queues/:queueName/resume', '/api/queues/ghost/resume'],
  ['PUT', '/api/queues/:queueName/concurrency', '/api/queues/ghost/concurrency'],
  ['PUT', '/api/queues/:queueName/rate-limit', '/api/queues/ghost/rate-limit'],
  ['PUT', '/api/queues/:queueName/rate-limit/release', '/api/queues/ghost/rate-limit/release'],
  ['PUT', '/api/queues/:queueName/empty', '/api/queues/ghost/empty'],
  ['PUT', '/api/queues/:queueName/obliterate', '/api/queues/ghost/obliterate'],
  [
    'PUT',
    '/api/queues/:queueName/job-schedulers/:schedulerId/remove',
    '/api/queues/ghost/job-schedulers/s/remove',
  ],
  ['PATCH', '/api/queues/:queueName/job-schedulers/:schedulerId', '/api/queues/ghost/job-schedulers/s'],
  ['PUT', '/api/queues/:queueName/job-schedulers/:schedulerId/run', '/api/queues/ghost/job-schedulers/s/run'],
  ['PUT', '/api/queues/:queueName/:jobId/retry', '/api/queues/ghost/1/retry'],
  ['PUT', '/api/queues/:queueName/:jobId/clean', '/api/queues/ghost/1/clean'],
  ['PUT', '/api/queues/:queueName/:jobId/promote', '/api/queues/ghost/1/promote'],
  ['PATCH', '/api/queues/:queueName/:jobId/update-data', '/api/queues/ghost/1/update-data'],
  ['PATCH', '/api/queues/:queueName/:jobId/delay', '/api/queues/ghost/1/delay'],
  ['PATCH', '/api/queues/:queueName/:jobId/priority', '/api/queues/ghost/1/priority'],
  [
    'PUT',
    '/api/queues/:queueName/:jobId/remove-unprocessed-children',
    '/api/queues/ghost/1/remove-unprocessed-children',
  ],
];
const BOARD_ACCESS: RouteAccess = { needs: 'admin', allScopes: true, browser: true };
const boardKey = (method: string, route: string) => `${method} /admin/queues${route}`;

/** The board shows every tenant's jobs: a scoped admin is refused on each of its routes. */
function boardScopeTable(): Record<string, () => Promise<void>> {
  return Object.fromEntries(
    BOARD_ROUTES.map(([method, route, probe]) => [
      boardKey(method, route),
      async () => {
        const answer = await call('a-admin', method, `/admin/queues${probe}`);
        expect(answer.status).toBe(403);
        expect(answer.json.code).toBe('PERMISSION');
      },
    ]),
  );
}

/** The documentation's routes: public, and nothing in them of any tenant. */
const DOCS: Record<string, string> = {
  'GET /docs': '/docs',
  'GET /docs/json': '/docs/json',
  'GET /docs/yaml': '/docs/yaml',
  'GET /docs/static/*': '/docs/static/swagger-ui.css',
  'GET /docs/static/index.html': '/docs/static/index.html',
  'GET /docs/static/swagger-initializer.js': '/docs/static/swagger-initializer.js',
};

/**
 * Per route: what a provider.resellerA admin (the strongest scoped caller, so no role hides a scope
 * hole) gets when it aims at resellerB. Keyed `METHOD url` as Fastify declares it.
 */
const scopeTable: Record<string, () => Promise<void>> = {
  'GET /health': async () => expectNothingOfB(await call(null, 'GET', '/health')),
  'GET /metrics': async () => expectNothingOfB(await call(null, 'GET', '/metrics')),
  'GET /readyz': async () => expectNothingOfB(await call(null, 'GET', '/readyz')),
  ...Object.fromEntries(
    Object.entries(DOCS).map(([route, path]) => [
      route,
      async () => expectNothingOfB(await call(null, 'GET', path)),
    ]),
  ),
  'GET /tenants/:ref/status': async () => {
    await expectLikeNothing('GET', (ref) => `/tenants/${ref}/status`, bRefs());
  },
  'GET /tenants/:ref/schedule': async () => {
    await expectLikeNothing('GET', (ref) => `/tenants/${ref}/schedule`, bRefs());
  },
  'GET /tenants/:ref/changes': async () => {
    await expectLikeNothing('GET', (ref) => `/tenants/${ref}/changes`, bRefs());
  },
  'PUT /tenants/:ref/schedule': async () => {
    await expectLikeNothing('PUT', (ref) => `/tenants/${ref}/schedule`, bRefs(), { pattern: '0 3 * * *' });
  },
  'DELETE /tenants/:ref/schedule': async () => {
    await expectLikeNothing('DELETE', (ref) => `/tenants/${ref}/schedule`, bRefs());
  },
  'DELETE /runs/:id': async () => {
    // B's run has ended: were it in scope, the answer would be 409.
    await expectLikeNothing('DELETE', (ref) => `/runs/${ref}`, [B.run]);
  },
  'GET /queue': async () => {
    // The job counts are of every tenant: a scoped caller learns only whether syncs are paused.
    const answer = await call('a-admin', 'GET', '/queue');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ paused: false });
  },
  'POST /queue/pause': async () => {
    // Pausing stops every tenant's syncs: only a token whose scope is * may.
    expect((await call('a-admin', 'POST', '/queue/pause', {})).status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
  },
  'POST /queue/resume': async () => {
    await queue.pause();
    expect((await call('a-admin', 'POST', '/queue/resume', {})).status).toBe(403);
    expect(await queue.isPaused()).toBe(true);
    await queue.resume();
  },
  'GET /tenants': async () => {
    const all = await call('a-admin', 'GET', '/tenants');
    expect(all.status).toBe(200);
    expect(all.text).toContain(aTenant);
    expectNothingOfB(all);
    for (const hierarchy of ['provider', 'provider.resellerB', 'provider.resellerB.cust2']) {
      const listed = await call('a-admin', 'GET', `/tenants?hierarchy=${hierarchy}`);
      expect(listed.status).toBe(200);
      expectNothingOfB(listed, hierarchy);
    }
  },
  'GET /tenants/:ref': async () => {
    await expectLikeNothing('GET', (ref) => `/tenants/${ref}`, bRefs());
    // Named by its name alone, "Shared Name" is A's tenant: B's namesake is not even a conflict.
    const byName = await call('a-admin', 'GET', '/tenants/Shared%20Name');
    expect(byName.status).toBe(200);
    expect(byName.json.id).toBe(aTenant);
  },
  'POST /tenants': async () => {
    const before = await mongo.db.collection('tenants').countDocuments();
    const answer = await call(
      'a-admin',
      'POST',
      '/tenants',
      validTenantInput({ hierarchy: 'provider.resellerB.cust2', Tenant: { name: 'Shared Name' } }),
    );
    expect(answer.status).toBe(400);
    expect(answer.json.problems?.map((p) => p.field)).toEqual(['hierarchy']);
    expect(answer.text).not.toMatch(/already used/);
    expect(await mongo.db.collection('tenants').countDocuments()).toBe(before);
  },
  'PATCH /tenants/:ref': async () => {
    await expectLikeNothing('PATCH', (ref) => `/tenants/${ref}`, bRefs(), {
      Tenant: { description: 'mine now' },
    });
    // Nor can A move its own tenant over to B.
    const moved = await call('a-admin', 'PATCH', `/tenants/${aTenant}`, { hierarchy: 'provider.resellerB' });
    expect(moved.status).toBe(400);
    expect((await stores.tenants.show(aTenant)).hierarchy).toBe('provider.resellerA.cust1');
  },
  'DELETE /tenants/:ref': async () => {
    await expectLikeNothing('DELETE', (ref) => `/tenants/${ref}?data=purge`, bRefs());
  },
  'POST /tenants/:ref/sync': async () => {
    await expectLikeNothing('POST', (ref) => `/tenants/${ref}/sync`, bRefs(), {});
  },
  'POST /tenants/:ref/purge': async () => {
    await expectLikeNothing('POST', (ref) => `/tenants/${ref}/purge`, bRefs(), { confirm: true });
  },
  'GET /runs': async () => {
    const listed = await call('a-admin', 'GET', '/runs');
    expect(listed.status).toBe(200);
    expect(listed.text).toContain(aRun);
    expectNothingOfB(listed);
    await expectLikeNothing('GET', (ref) => `/runs?tenant=${ref}`, bRefs());
    expectNothingOfB(await call('a-admin', 'GET', '/runs?status=needs_review'));
  },
  'GET /runs/:id': async () => {
    await expectLikeNothing('GET', (ref) => `/runs/${ref}`, [B.run]);
  },
  'POST /runs/:id/approve-deletes': async () => {
    await expectLikeNothing('POST', (ref) => `/runs/${ref}/approve-deletes`, [B.run], {});
  },
  'GET /kind-lists': async () => expectNothingOfB(await call('a-admin', 'GET', '/kind-lists')),
  'PUT /kind-lists/:name': async () => {
    // Kind lists apply to every tenant: only a token whose scope is * changes them.
    const answer = await call('a-admin', 'PUT', '/kind-lists/nightly', { kinds: 'licensing' });
    expect(answer.status).toBe(403);
    expect(await mongo.db.collection('kind_lists').countDocuments()).toBe(0);
  },
  'DELETE /kind-lists/:name': async () => {
    expect((await call('a-admin', 'DELETE', '/kind-lists/nightly')).status).toBe(403);
  },
  'GET /delete-protection': async () => {
    const answer = await call('a-admin', 'GET', '/delete-protection');
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      hierarchy: { provider: { graph: { count: 11 } } },
      tenants: { [aTenant]: { graph: { count: 13 } } },
    });
    expectNothingOfB(answer);
  },
  'GET /tokens': async () => {
    const answer = await call('a-admin', 'GET', '/tokens');
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('a-viewer');
    expect(answer.text).not.toContain('all-admin');
    expectNothingOfB(answer);
  },
  'POST /tokens': async () => {
    for (const scope of ['provider.resellerB', 'provider', '*']) {
      const answer = await call('a-admin', 'POST', '/tokens', {
        name: `grab-${scope}`,
        role: 'viewer',
        scope,
      });
      expect(answer.status).toBe(400);
      expect(answer.json.problems?.map((p) => p.field)).toEqual(['scope']);
    }
    // A name used in another scope is not "already used": that would tell A it exists in B.
    const namesake = await call('a-admin', 'POST', '/tokens', { name: 'hidden-name', role: 'viewer' });
    expect(namesake.status).toBe(201);
    expect(namesake.json.scope).toBe('provider.resellerA');
    const seen = await call('a-admin', 'POST', '/tokens', { name: 'a-viewer', role: 'viewer' });
    expect(seen.status).toBe(400);
    expect(seen.text).toContain('is already used by a token');
    // Whoever sees both is asked for the id; A, seeing one, revokes its own.
    const ambiguous = await call('all-admin', 'DELETE', '/tokens/hidden-name');
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.json.code).toBe('CONFLICT');
    const revoked = await call('a-admin', 'DELETE', '/tokens/hidden-name');
    expect(revoked.status).toBe(200);
    expect(revoked.json.id).toBe(namesake.json.id);
  },
  'DELETE /tokens/:ref': async () => {
    await expectLikeNothing('DELETE', (ref) => `/tokens/${ref}`, ['b-viewer', 'all-admin']);
    expect((await call('b-viewer', 'GET', '/tenants')).status).toBe(200);
  },
  'GET /webhooks': async () => {
    const answer = await call('a-admin', 'GET', '/webhooks');
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('a-portal-hook');
    expectNothingOfB(answer);
  },
  'POST /webhooks': async () => {
    for (const [i, scope] of ['provider.resellerB', 'provider', '*'].entries()) {
      const answer = await call('a-admin', 'POST', '/webhooks', {
        name: `grab-${i}`,
        url: 'https://portal.example/grab',
        scope,
      });
      expect(answer.status).toBe(400);
      expect(answer.json.problems?.map((p) => p.field)).toEqual(['scope']);
    }
    // Without a scope, its own.
    const own = await call('a-admin', 'POST', '/webhooks', {
      name: 'a-own',
      url: 'https://portal.example/a',
    });
    expect(own.status).toBe(201);
    expect(own.json.scope).toBe('provider.resellerA');
    // A name used in another scope is not "already used": that would tell A it exists in B.
    const namesake = await call('a-admin', 'POST', '/webhooks', {
      name: 'hidden-hook',
      url: 'https://portal.example/a2',
    });
    expect(namesake.status).toBe(201);
    const seen = await call('a-admin', 'POST', '/webhooks', {
      name: 'a-own',
      url: 'https://portal.example/a',
    });
    expect(seen.status).toBe(400);
    expect(seen.text).toContain('is already used by a webhook');
    expect((await call('all-admin', 'GET', '/webhooks/hidden-hook')).status).toBe(409);
    const mine = await call('a-admin', 'GET', '/webhooks/hidden-hook');
    expect(mine.status).toBe(200);
    expect(mine.json.id).toBe(namesake.json.id);
  },
  'GET /webhooks/:ref': async () => {
    await expectLikeNothing('GET', (ref) => `/webhooks/${ref}`, ['b-portal', B.webhook]);
  },
  'DELETE /webhooks/:ref': async () => {
    await expectLikeNothing('DELETE', (ref) => `/webhooks/${ref}`, ['b-portal', B.webhook]);
  },
  'GET /webhooks/:ref/deliveries': async () => {
    await expectLikeNothing('GET', (ref) => `/webhooks/${ref}/deliveries`, ['b-portal', B.webhook]);
  },
  ...boardScopeTable(),
};

/** Per route: the access it must declare, and a harmless request (it aims at nothing) to probe roles with. */
const roleTable: Record<
  string,
  { access: Exclude<RouteAccess, 'console'>; probe: { path: string; body?: unknown } }
> = {
  'GET /health': { access: 'public', probe: { path: '/health' } },
  'GET /metrics': { access: 'public', probe: { path: '/metrics' } },
  'GET /readyz': { access: 'public', probe: { path: '/readyz' } },
  ...Object.fromEntries(
    Object.entries(DOCS).map(([route, path]) => [route, { access: 'public' as const, probe: { path } }]),
  ),
  'GET /tenants/:ref/status': { access: { needs: 'viewer' }, probe: { path: '/tenants/ghost/status' } },
  'GET /tenants/:ref/schedule': { access: { needs: 'viewer' }, probe: { path: '/tenants/ghost/schedule' } },
  'GET /tenants/:ref/changes': { access: { needs: 'viewer' }, probe: { path: '/tenants/ghost/changes' } },
  'PUT /tenants/:ref/schedule': {
    access: { needs: 'admin' },
    probe: { path: '/tenants/ghost/schedule', body: {} },
  },
  'DELETE /tenants/:ref/schedule': { access: { needs: 'admin' }, probe: { path: '/tenants/ghost/schedule' } },
  'DELETE /runs/:id': { access: { needs: 'operator' }, probe: { path: `/runs/${GHOST_ID}` } },
  'GET /queue': { access: { needs: 'viewer' }, probe: { path: '/queue' } },
  // Pause, then resume: the queue ends as it began.
  'POST /queue/pause': {
    access: { needs: 'admin', allScopes: true },
    probe: { path: '/queue/pause', body: {} },
  },
  'POST /queue/resume': {
    access: { needs: 'admin', allScopes: true },
    probe: { path: '/queue/resume', body: {} },
  },
  'GET /tenants': { access: { needs: 'viewer' }, probe: { path: '/tenants' } },
  'GET /tenants/:ref': { access: { needs: 'viewer' }, probe: { path: '/tenants/ghost' } },
  'POST /tenants': { access: { needs: 'admin' }, probe: { path: '/tenants', body: {} } },
  'PATCH /tenants/:ref': { access: { needs: 'admin' }, probe: { path: '/tenants/ghost', body: {} } },
  'DELETE /tenants/:ref': { access: { needs: 'admin' }, probe: { path: '/tenants/ghost' } },
  'POST /tenants/:ref/sync': {
    access: { needs: 'operator' },
    probe: { path: '/tenants/ghost/sync', body: {} },
  },
  'POST /tenants/:ref/purge': {
    access: { needs: 'admin' },
    probe: { path: '/tenants/ghost/purge', body: { confirm: true } },
  },
  'GET /runs': { access: { needs: 'viewer' }, probe: { path: '/runs' } },
  'GET /runs/:id': { access: { needs: 'viewer' }, probe: { path: `/runs/${GHOST_ID}` } },
  'POST /runs/:id/approve-deletes': {
    access: { needs: 'operator' },
    probe: { path: `/runs/${GHOST_ID}/approve-deletes`, body: {} },
  },
  'GET /kind-lists': { access: { needs: 'viewer' }, probe: { path: '/kind-lists' } },
  'PUT /kind-lists/:name': {
    access: { needs: 'admin', allScopes: true },
    probe: { path: '/kind-lists/probe', body: {} },
  },
  'DELETE /kind-lists/:name': {
    access: { needs: 'admin', allScopes: true },
    probe: { path: '/kind-lists/ghost' },
  },
  'GET /delete-protection': { access: { needs: 'viewer' }, probe: { path: '/delete-protection' } },
  'GET /tokens': { access: { needs: 'admin' }, probe: { path: '/tokens' } },
  'POST /tokens': { access: { needs: 'admin' }, probe: { path: '/tokens', body: {} } },
  'DELETE /tokens/:ref': { access: { needs: 'admin' }, probe: { path: '/tokens/ghost' } },
  'GET /webhooks': { access: { needs: 'admin' }, probe: { path: '/webhooks' } },
  'POST /webhooks': { access: { needs: 'admin' }, probe: { path: '/webhooks', body: {} } },
  'GET /webhooks/:ref': { access: { needs: 'admin' }, probe: { path: '/webhooks/ghost' } },
  'DELETE /webhooks/:ref': { access: { needs: 'admin' }, probe: { path: '/webhooks/ghost' } },
  'GET /webhooks/:ref/deliveries': {
    access: { needs: 'admin' },
    probe: { path: '/webhooks/ghost/deliveries' },
  },
  ...Object.fromEntries(
    BOARD_ROUTES.map(([method, route, probe]) => [
      boardKey(method, route),
      { access: BOARD_ACCESS, probe: { path: `/admin/queues${probe}` } },
    ]),
  ),
};

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

describe('the route table', () => {
  it('every route of the API is in the scope table and the role table, with the access it declares', () => {
    const served = app.routeTable.map((r) => `${r.method} ${r.url}`).sort();
    expect(served, 'a route was added or removed: give it a scope test and a role probe').toEqual(
      Object.keys(scopeTable).sort(),
    );
    expect(served).toEqual(Object.keys(roleTable).sort());
    for (const route of app.routeTable)
      expect(route.access, `${route.method} ${route.url}`).toEqual(
        roleTable[`${route.method} ${route.url}`]!.access,
      );
  });

  it('an API with a route that declares no access does not start', async () => {
    const broken = buildApi({ stores, authentication: { tokens: stores.tokens } });
    broken.register(async (api) => {
      api.get('/open', async () => 'open');
    });
    await expect(broken.ready()).rejects.toThrow(/declares no access/);
  });
});

describe('scope: a provider.resellerA token never sees, changes or learns of resellerB', () => {
  it.each(Object.entries(scopeTable))('%s', async (_route, check) => {
    await check();
    await bUntouched();
  });
});

describe('roles, per route', () => {
  it.each(Object.entries(roleTable))('%s', async (route, { access, probe }) => {
    const method = route.split(' ')[0]!;
    if (access === 'public') {
      expect((await call(null, method, probe.path, probe.body)).status).toBe(200);
      return;
    }
    const anonymous = await call(null, method, probe.path, probe.body);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.code).toBe('AUTHENTICATION');
    const forged = await call('m365s_not-a-stored-token', method, probe.path, probe.body);
    expect(forged.status).toBe(401);
    for (const role of ROLES) {
      const answer = await call(`all-${role}`, method, probe.path, probe.body);
      const allowed = ROLES.indexOf(role) >= ROLES.indexOf(access.needs);
      if (allowed) expect([401, 403], `${role} on ${route}`).not.toContain(answer.status);
      else {
        expect(answer.status, `${role} on ${route}`).toBe(403);
        expect(answer.json.code).toBe('PERMISSION');
      }
    }
    if (access.allScopes) expect((await call('a-admin', method, probe.path, probe.body)).status).toBe(403);
    await bUntouched();
  });

  it('a revoked token is refused at its next request', async () => {
    const { token: t } = await stores.tokens.create(
      { name: 'short-lived', role: 'viewer', scope: '*' },
      'test',
    );
    expect((await call(t, 'GET', '/tenants')).status).toBe(200);
    const revoked = await call('all-admin', 'DELETE', '/tokens/short-lived');
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedBy).toBe('all-admin');
    expect((await call(t, 'GET', '/tenants')).status).toBe(401);
  });

  it('an admin creates a token through the API; it is shown once and works at once', async () => {
    const created = await call('a-admin', 'POST', '/tokens', { name: 'a-portal', role: 'viewer' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'a-portal', role: 'viewer', scope: 'provider.resellerA' });
    const secret = created.json.token as string;
    expect(secret).toMatch(/^m365s_[A-Za-z0-9_-]{43}$/);
    const listed = await call('a-admin', 'GET', '/tokens');
    expect(listed.text).toContain('a-portal');
    expect(listed.text).not.toContain(secret);
    const stored = JSON.stringify(await mongo.db.collection('api_tokens').find({}).toArray());
    expect(stored).not.toContain(secret);
    expect((await call(secret, 'GET', '/tenants')).status).toBe(200);
  });
});
