/**
 * The queue board at /admin/queues over real HTTP, as a browser uses it: no Bearer header, so the
 * API asks for HTTP Basic and takes an admin token (scope `*`) as the password; viewers, operators,
 * scoped admins and strangers are refused on its page, its files and its calls; a change (retry,
 * clean) is taken only from the board's own pages, so another site cannot make a signed-in browser
 * do it. Every board route's access is also in test/api/access.test.ts's tables.
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores } from '../../connectors/mongo/stores.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually } from '../workers/support/harness.js';

let mongo: TestMongo;
let redis: TestRedis;
let queue: Queue;
let app: FastifyInstance;
let base: string;
const token: Record<string, string> = {};
let failedJobId = '';

const basic = (password: string, user = 'operator') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(path: string, authorization?: string) {
  const response = await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
  return { response, text: await response.text() };
}

/** A PUT as the board's script sends it (no body), with the headers a browser would add. */
async function put(path: string, headers: Record<string, string>) {
  const response = await fetch(`${base}${path}`, { method: 'PUT', headers });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  mongo = await testMongo('queue-board');
  redis = await testRedis('queue-board');
  const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  for (const [name, role, scope] of [
    ['admin', 'admin', '*'],
    ['scoped-admin', 'admin', 'provider.resellerA'],
    ['operator', 'operator', '*'],
    ['viewer', 'viewer', '*'],
  ] as const)
    token[name] = (await stores.tokens.create({ name, role, scope }, 'test')).token;

  const connection = { url: redis.url };
  queue = new Queue('board-test', { connection, prefix: redis.prefix });
  // One job that failed for good, for the board to retry and clean.
  const failing = new Worker(
    'board-test',
    async () => {
      throw new UnrecoverableError('the receiver said no');
    },
    { connection: { ...connection, maxRetriesPerRequest: null }, prefix: redis.prefix },
  );
  failedJobId = (await queue.add('deliver', { n: 1 })).id!;
  await eventually(async () => (await queue.getJobState(failedJobId)) === 'failed');
  await failing.close();

  app = buildApi({ stores, authentication: { tokens: stores.tokens }, boardQueues: [queue] });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await queue?.close();
  await redis?.close();
  await mongo?.close();
});

describe('the queue board', () => {
  it('asks a browser for Basic credentials, and shows the page to an admin token given as the password', async () => {
    const anonymous = await get('/admin/queues');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toMatch(/^Basic realm="m365sync"/);
    expect(JSON.parse(anonymous.text)).toMatchObject({ code: 'AUTHENTICATION' });

    const page = await get('/admin/queues', basic(token.admin!));
    expect(page.response.status).toBe(200);
    expect(page.response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<title>m365sync queues</title>');
    expect(page.text).toContain('<base href="/admin/queues/"');
    // Nobody may frame it to trick a signed-in admin into a click.
    expect(page.response.headers.get('x-frame-options')).toBe('DENY');
    expect(page.response.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");

    // Its script and its data, as the browser then fetches them (the same credentials, same origin).
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toBeDefined();
    const js = await get(`/admin/queues/${script}`, basic(token.admin!));
    expect(js.response.status).toBe(200);
    expect(js.response.headers.get('content-type')).toMatch(/javascript/);
    const data = await get('/admin/queues/api/queues', basic(token.admin!));
    expect(data.response.status).toBe(200);
    expect(JSON.parse(data.text).queues.map((q: { name: string }) => q.name)).toEqual(['board-test']);
    // Scripts may send the token as Bearer.
    expect((await get('/admin/queues/api/queues', `Bearer ${token.admin}`)).response.status).toBe(200);
  });

  it('refuses viewers, operators, scoped admins, unknown tokens and tokens in the URL, on pages, files and calls', async () => {
    for (const path of [
      '/admin/queues',
      '/admin/queues/',
      '/admin/queues/queue/board-test',
      '/admin/queues/static/images/logo.svg',
      '/admin/queues/api/queues',
    ]) {
      for (const who of ['viewer', 'operator', 'scoped-admin']) {
        const answer = await get(path, basic(token[who]!));
        expect(answer.response.status, `${who} on ${path}`).toBe(403);
        expect(JSON.parse(answer.text).code).toBe('PERMISSION');
        expect(answer.text).not.toContain('board-test');
      }
      const unknown = await get(path, basic('m365s_not-a-stored-token'));
      expect(unknown.response.status).toBe(401);
      expect(unknown.response.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect((await get(`${path}?token=${token.admin}`)).response.status).toBe(401);
    }
  });

  it('is left out of the OpenAPI document (a UI, not the API)', async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/webhooks');
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
  });

  it('takes Basic credentials on the board only: the rest of the API still wants Bearer', async () => {
    const tenants = await get('/tenants', basic(token.admin!));
    expect(tenants.response.status).toBe(401);
    expect(tenants.response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('retries and cleans a job for an admin on its own pages; another site cannot make the browser do it', async () => {
    const retry = `/admin/queues/api/queues/board-test/${failedJobId}/retry`;
    const credentials = { authorization: basic(token.admin!) };
    const refusals = [
      await put(retry, credentials), // no Origin: not from a page of ours
      await put(retry, { ...credentials, origin: 'https://evil.example' }),
      await put(retry, { ...credentials, origin: base, 'sec-fetch-site': 'cross-site' }),
    ];
    for (const refused of refusals) {
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text).code).toBe('PERMISSION');
    }
    expect(await queue.getJobState(failedJobId)).toBe('failed');
    expect((await put(retry, { authorization: basic(token.operator!), origin: base })).status).toBe(403);

    const retried = await put(retry, { ...credentials, origin: base, 'sec-fetch-site': 'same-origin' });
    expect(retried.status, retried.text).toBe(204);
    expect(await queue.getJobState(failedJobId)).toBe('waiting');

    // A script with the Bearer token needs no Origin (a browser never sends Bearer by itself).
    const clean = `/admin/queues/api/queues/board-test/${failedJobId}/clean`;
    expect((await put(clean, { authorization: `Bearer ${token.viewer}` })).status).toBe(403);
    const cleaned = await put(clean, { authorization: `Bearer ${token.admin}` });
    expect(cleaned.status, cleaned.text).toBe(204);
    expect(await queue.getJob(failedJobId)).toBeUndefined();
  });
});
