/**
 * The API describes itself: the OpenAPI document at /docs/json (public) has every route of the route
 * table, the UI is served at /docs, and a request that breaks a route's schema is refused with 400 in
 * the error shape the document gives for that route, naming the field the document declares.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isDocsRoute } from '../../api/docs.js';
import { callApi, startTestApi, type TestApi } from '../support/api.js';
import { validTenantInput } from '../support/fixtures.js';

type Json = Record<string, unknown>;
interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: { 'application/json': { schema: Json } } };
  responses: Record<string, { content?: { 'application/json': { schema: Json } } }>;
}

let api: TestApi;
let token: string;
let tenantId: string;
let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Json } };

beforeAll(async () => {
  api = await startTestApi('api-openapi', async (stores) => {
    token = (await stores.tokens.create({ name: 'doc-reader', role: 'admin', scope: '*' }, 'test')).token;
    tenantId = (await stores.tenants.add(validTenantInput())).id;
  });
  const answer = await callApi(api.base, null, 'GET', '/docs/json');
  expect(answer.status).toBe(200);
  doc = answer.json as typeof doc;
}, 60_000);

afterAll(async () => {
  await api?.close();
});

const call = (method: string, path: string, body?: unknown) => callApi(api.base, token, method, path, body);

/** A schema of the document, its `$ref` resolved (one level: the components are flat). */
function resolved(schema: Json): Json {
  const ref = schema.$ref as string | undefined;
  return ref ? (doc.components.schemas[ref.split('/').pop()!] as Json) : schema;
}

const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and describes every route of the route table (the documentation itself aside)', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routes = api.app.routeTable.filter((r) => !isDocsRoute(r.url));
    expect(routes.length).toBeGreaterThan(25);
    for (const route of routes) {
      const operation = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.url}`).toBeDefined();
      // Every route documents its errors in the one shape.
      expect(resolved(operation!.responses['4XX']!.content!['application/json'].schema)).toMatchObject({
        required: ['code', 'message'],
      });
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${openApiPath(r.url)}`).sort());
  });

  it('is browsable at /docs without a token', async () => {
    const page = await fetch(`${api.base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/swagger/i);
  });
});

describe('a request that breaks a schema', () => {
  const cases: {
    method: string;
    url: string;
    path: string;
    body?: unknown;
    field: string;
    /** Where the document declares that field. */
    declared: 'body' | 'query' | 'whole body';
  }[] = [
    {
      method: 'POST',
      url: '/tenants/{ref}/sync',
      path: '/tenants/T/sync',
      body: { kinds: 5 },
      field: 'kinds',
      declared: 'body',
    },
    { method: 'GET', url: '/runs', path: '/runs?limit=abc', field: 'limit', declared: 'query' },
    { method: 'GET', url: '/runs', path: '/runs?status=done', field: 'status', declared: 'query' },
    {
      method: 'POST',
      url: '/tokens',
      path: '/tokens',
      body: { name: 'x', role: 'root' },
      field: 'role',
      declared: 'body',
    },
    {
      method: 'PUT',
      url: '/tenants/{ref}/schedule',
      path: '/tenants/T/schedule',
      body: { enabled: 'yes' },
      field: 'enabled',
      declared: 'body',
    },
    {
      method: 'PUT',
      url: '/tenants/{ref}/schedule',
      path: '/tenants/T/schedule',
      body: { deltaMinutes: 'often' },
      field: 'deltaMinutes',
      declared: 'body',
    },
    {
      method: 'POST',
      url: '/tenants',
      path: '/tenants',
      body: [1, 2],
      field: 'body',
      declared: 'whole body',
    },
    {
      method: 'POST',
      url: '/queue/pause',
      path: '/queue/pause',
      body: { now: true },
      field: 'body',
      declared: 'whole body',
    },
  ];

  it.each(cases)('$method $path is refused with 400 as the document says', async (c) => {
    const operation = doc.paths[c.url]![c.method.toLowerCase()]!;
    if (c.declared === 'body')
      expect(
        Object.keys(resolved(operation.requestBody!.content['application/json'].schema).properties as Json),
      ).toContain(c.field);
    if (c.declared === 'query')
      expect(operation.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toContain(c.field);
    if (c.declared === 'whole body') expect(operation.requestBody).toBeDefined();

    const answer = await call(c.method, c.path.replace('/T/', `/${tenantId}/`), c.body);
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe('INVALID_INPUT');
    expect((answer.json.problems as { field: string }[]).map((p) => p.field)).toContain(c.field);
    // The answer is what the document's 4XX schema says it is.
    const documented = z.fromJSONSchema(
      resolved(operation.responses['4XX']!.content!['application/json'].schema) as never,
    );
    expect(documented.safeParse(answer.json).success).toBe(true);
    expect(Object.keys(answer.json).sort()).toEqual(['code', 'message', 'problems']);
  });

  it('nothing was stored or enqueued by a refused request', async () => {
    expect(await api.mongo.db.collection('sync_runs').countDocuments()).toBe(0);
    expect(await api.mongo.db.collection('api_tokens').countDocuments({ name: 'x' })).toBe(0);
    expect(await api.mongo.db.collection('schedules').countDocuments()).toBe(0);
    expect(await api.queue.isPaused()).toBe(false);
  });

  it('an unknown route answers in the same shape', async () => {
    const answer = await call('GET', '/no/such/route');
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ code: 'NOT_FOUND', message: 'No route GET /no/such/route.' });
  });
});
