/**
 * The operator API's checks on each request, over real HTTP: Host header, JSON content type, the
 * per-token rate limit, the actor recorded (the token's name, never the body's), masking by presence
 * (a tenant whose secret cannot be decrypted still lists) and one value per query parameter.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { apiHostNames, hostOfHeader } from '../../api/access.js';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { validTenantInput, allowFixtureDestinations } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';

let mongo: TestMongo;
let redis: TestRedis;
let queue: Queue<SyncJobData, unknown, string>;
let stores: Stores;
let app: FastifyInstance;
let port: number;
let operator: string;
let admin: string;
let tenantId: string;

beforeAll(async () => {
  mongo = await testMongo('api-checks');
  redis = await testRedis('api-checks');
  stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  await allowFixtureDestinations(stores.destinations);
  queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  operator = (await stores.tokens.create({ name: 'ops-portal', role: 'operator', scope: '*' }, 'test')).token;
  admin = (await stores.tokens.create({ name: 'root', role: 'admin', scope: '*' }, 'test')).token;
  tenantId = (await stores.tenants.add(validTenantInput())).id;
  app = buildApi({
    stores,
    syncQueue: queue,
    authentication: { tokens: stores.tokens },
    allowedHosts: apiHostNames({ M365SYNC_API_HOSTNAMES: 'm365sync.example.net, API' }, '127.0.0.1'),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await queue?.close();
  await redis?.close();
  await mongo?.close();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { code?: string; message?: string; problems?: { field: string; message: string }[] } & Record<
    string,
    unknown
  >;
  text: string;
}

/**
 * A request with exactly these headers and body bytes (fetch would not let a test set Host); `to`:
 * another API's port, another source address.
 */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  to: { port?: number; localAddress?: string } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port: to.port ?? port, localAddress: to.localAddress };
    const req = httpRequest({ ...target, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let parsed = {} as Raw['body'];
        try {
          parsed = JSON.parse(text) as Raw['body'];
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jobsOfTenant = async () =>
  (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'])).filter(
    (j) => j.data.tenantId === tenantId,
  );

describe('Host header', () => {
  it('answers the loopback names, the bind address and the configured names, with or without port', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      'localhost',
      `LOCALHOST:${port}`,
      '[::1]:80',
      'm365sync.example.net',
      'api:8080',
    ]) {
      const answer = await raw('GET', '/tenants', { host, ...bearer(admin) });
      expect(answer.status, host).toBe(200);
    }
  });

  it('refuses any other name with 421 before looking at the token, on every route', async () => {
    for (const host of [
      'evil.example',
      'evil.example:80',
      '127.0.0.1.evil.example',
      'm365sync.example.net.evil',
    ]) {
      for (const path of ['/tenants', '/health', '/metrics']) {
        const answer = await raw('GET', path, { host, ...bearer(admin) });
        expect(answer.status, `${host} ${path}`).toBe(421);
        expect(answer.body.code).toBe('HOST_NOT_ALLOWED');
      }
    }
  });

  it('reads host names as a client sends them', () => {
    expect(hostOfHeader('[::1]:8080')).toBe('[::1]');
    expect(hostOfHeader('Api.Example:443')).toBe('api.example');
    expect(apiHostNames({}, '0.0.0.0')).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(apiHostNames({}, '::1')).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(apiHostNames({ M365SYNC_API_HOSTNAMES: 'a.example,b' }, '10.1.2.3')).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
      '10.1.2.3',
      'a.example',
      'b',
    ]);
  });
});

describe('content type', () => {
  const host = 'localhost';
  it('refuses a cross-site form post (no body, a form type) with 415 and enqueues nothing', async () => {
    for (const type of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
    ]) {
      const answer = await raw('POST', `/tenants/${tenantId}/sync`, {
        host,
        ...bearer(operator),
        'content-type': type,
        'content-length': '0',
      });
      expect(answer.status, type).toBe(415);
      expect(answer.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    const noType = await raw('POST', `/tenants/${tenantId}/sync`, { host, ...bearer(operator) });
    expect(noType.status).toBe(415);
    // text/plain is what a form can send with a JSON-looking body.
    const textPlain = await raw(
      'POST',
      `/tenants/${tenantId}/sync`,
      { host, ...bearer(operator), 'content-type': 'text/plain' },
      '{}',
    );
    expect(textPlain.status).toBe(415);
    expect(await jobsOfTenant()).toEqual([]);
  });

  it('refuses PATCH and PUT without JSON too', async () => {
    const patch = await raw(
      'PATCH',
      `/tenants/${tenantId}`,
      { host, ...bearer(admin), 'content-type': 'application/x-www-form-urlencoded' },
      'Tenant.description=x',
    );
    expect(patch.status).toBe(415);
    const put = await raw(
      'PUT',
      '/kind-lists/x',
      { host, ...bearer(admin), 'content-type': 'text/plain' },
      'x',
    );
    expect(put.status).toBe(415);
  });

  it('accepts JSON, with a charset', async () => {
    const answer = await raw(
      'POST',
      `/tenants/${tenantId}/sync`,
      { host, ...bearer(operator), 'content-type': 'application/json; charset=utf-8' },
      '{}',
    );
    expect(answer.status).toBe(202);
    await queue.obliterate({ force: true });
  });

  it('refuses a body that is not valid UTF-8 with 400 naming it, and changes nothing', async () => {
    const before = await stores.tenants.show(tenantId);
    const body = Buffer.concat([
      Buffer.from('{"Tenant":{"description":"caf'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]);
    const answer = await raw(
      'PATCH',
      `/tenants/${tenantId}`,
      { host, ...bearer(admin), 'content-type': 'application/json' },
      body,
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: 'INVALID_INPUT',
      problems: [{ field: 'body', message: expect.stringContaining('not valid UTF-8') as unknown }],
    });
    const after = await stores.tenants.show(tenantId);
    expect(after.Tenant.description).toBe(before.Tenant.description);
    expect(after.updatedAt).toEqual(before.updatedAt);
    // Valid UTF-8, non-ASCII included, is stored as sent.
    const ok = await raw(
      'PATCH',
      `/tenants/${tenantId}`,
      { host, ...bearer(admin), 'content-type': 'application/json' },
      Buffer.from('{"Tenant":{"description":"café"}}', 'utf8'),
    );
    expect(ok.status).toBe(200);
    expect((await stores.tenants.show(tenantId)).Tenant.description).toBe('café');
  });
});

describe('the actor', () => {
  const host = 'localhost';
  const post = (path: string, body: unknown, token = operator) =>
    raw('POST', path, { host, ...bearer(token), 'content-type': 'application/json' }, JSON.stringify(body));

  it("records the token's name on the run and refuses a client-chosen requestedBy", async () => {
    const forged = await post(`/tenants/${tenantId}/sync`, { requestedBy: 'someone-else' });
    expect(forged.status).toBe(400);
    expect(forged.body.problems?.[0]?.message).toMatch(/requestedBy/);
    expect(await jobsOfTenant()).toEqual([]);

    const accepted = await post(`/tenants/${tenantId}/sync`, {});
    expect(accepted.status).toBe(202);
    const run = await new SyncRunStore(mongo.db).get(accepted.body.runId as string);
    expect(run?.requestedBy).toBe('ops-portal');
    expect((await jobsOfTenant()).map((j) => j.data.requestedBy)).toEqual(['ops-portal']);
    await queue.obliterate({ force: true });
  });

  it('refuses a client-chosen approvedBy and purge requestedBy', async () => {
    const runId = (await new SyncRunStore(mongo.db).list({ tenantId, limit: 1 }))[0]!.id;
    const approval = await post(`/runs/${runId}/approve-deletes`, { approvedBy: 'someone-else' });
    expect(approval.status).toBe(400);
    const purge = await post(`/tenants/${tenantId}/purge`, { confirm: true, requestedBy: 'x' }, admin);
    expect(purge.status).toBe(400);
    const purged = await post(`/tenants/${tenantId}/purge`, { confirm: true }, admin);
    expect(purged.status).toBe(200);
    expect(purged.body.requestedBy).toBe('root');
  });
});

describe('masking by presence', () => {
  const host = 'localhost';
  it('lists and shows a tenant whose secret does not decrypt, and never says which one failed', async () => {
    const broken = (
      await stores.tenants.add(
        validTenantInput({ hierarchy: 'provider.broken', Tenant: { name: 'Broken Keys' } }),
      )
    ).id;
    // As if it were written under a key this API no longer has.
    await mongo.db.collection('tenants').updateOne(
      { 'Tenant.name': 'Broken Keys' },
      {
        $set: {
          'Microsoft 365.client_secret.keyId': 'gone-key',
          'Microsoft Teams.tenantPassword.data': 'AAAA',
        },
      },
    );
    const list = await raw('GET', '/tenants', { host, ...bearer(admin) });
    expect(list.status).toBe(200);
    const listed = JSON.parse(list.text) as { id: string; 'Microsoft 365': { client_secret: string } }[];
    expect(listed.map((t) => t.id)).toEqual(expect.arrayContaining([tenantId, broken]));
    expect(listed.find((t) => t.id === broken)!['Microsoft 365'].client_secret).toBe('********');
    const shown = await raw('GET', `/tenants/${broken}`, { host, ...bearer(admin) });
    expect(shown.status).toBe(200);
    expect(shown.body['Microsoft Teams']).toMatchObject({ tenantPassword: '********' });
    expect(shown.text).not.toContain('Teams-P4ss!');

    // Changing it needs the secrets: that fails, and the answer names no tenant, field or key.
    const patched = await raw(
      'PATCH',
      `/tenants/${broken}`,
      { host, ...bearer(admin), 'content-type': 'application/json' },
      JSON.stringify({ Tenant: { description: 'x' } }),
    );
    expect(patched.status).toBe(500);
    expect(patched.body.code).toBe('DECRYPTION_FAILED');
    for (const leak of [broken, 'gone-key', 'client_secret', 'tenantPassword', 'k1', 'Broken Keys'])
      expect(patched.text).not.toContain(leak);
  });
});

describe('query parameters', () => {
  const host = 'localhost';
  it('a repeated or malformed parameter is a 400 naming it, not a 500', async () => {
    for (const path of [
      '/tenants?hierarchy=a&hierarchy=b',
      '/tenants?hierarchy=a..b',
      '/runs?status=failed&status=succeeded',
      '/runs?tenant=a&tenant=b',
      `/tenants/${tenantId}?data=purge&data=keep`,
    ]) {
      const method = path.includes('?data=') ? 'DELETE' : 'GET';
      const answer = await raw(method, path, { host, ...bearer(admin) });
      expect(answer.status, path).toBe(400);
      expect(answer.body.code).toBe('INVALID_INPUT');
      expect(answer.body.problems?.[0]?.field).toMatch(/^(hierarchy|status|tenant|data)$/);
    }
    expect((await stores.tenants.show(tenantId)).id).toBe(tenantId);
  });
});

describe('rate limit per token', () => {
  it('answers 429 with Retry-After past the limit, for that token only', async () => {
    const limited = buildApi({
      stores,
      authentication: { tokens: stores.tokens },
      rateLimit: { max: 3, timeWindowMs: 60_000 },
    });
    await limited.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(limited.server.address() as { port: number }).port}`;
    try {
      const get = (token: string) => fetch(`${base}/tenants/${tenantId}`, { headers: bearer(token) });
      for (let i = 0; i < 3; i++) expect((await get(operator)).status).toBe(200);
      const refused = await get(operator);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { code: string }).code).toBe('RATE_LIMITED');
      // Another token from the same address has its own budget.
      expect((await get(admin)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('failed sign-ins per client address', () => {
  it('answers 429 past the limit, before looking the token up, to that address only', async () => {
    const limited = buildApi({ stores, authentication: { tokens: stores.tokens } }); // the default limit
    await limited.listen({ port: 0, host: '127.0.0.1' });
    const to = { port: (limited.server.address() as { port: number }).port };
    // Another client: the same loopback interface, another source address.
    const elsewhere = { ...to, localAddress: '127.0.0.2' };
    try {
      const get = (token: string, from = to) =>
        raw('GET', '/tenants', { ...bearer(token), host: '127.0.0.1' }, undefined, from);
      const statuses: number[] = [];
      for (let i = 0; i < 110; i++) statuses.push((await get(`m365s_guess-${i}`)).status);
      expect(statuses.slice(0, 60)).toEqual(Array(60).fill(401));
      expect(statuses.slice(60)).toEqual(Array(50).fill(429));
      // Even a good token is refused from there now: the address is refused before any look-up.
      const refused = await get(operator);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(refused.body.message).toContain('a token that does not sign in from this address');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Another address is not held back.
      expect((await get(operator, elsewhere)).status).toBe(200);
      expect((await get('m365s_another-guess', elsewhere)).status).toBe(401);
    } finally {
      await limited.close();
    }
  });

  it('counts by the forwarded client address behind a trusted proxy, and by the connection otherwise', async () => {
    const limit = { max: 3, timeWindowMs: 60_000 };
    const behind = buildApi({
      stores,
      authentication: { tokens: stores.tokens },
      failedAuthLimit: limit,
      trustedProxies: ['127.0.0.1'],
    });
    const direct = buildApi({ stores, authentication: { tokens: stores.tokens }, failedAuthLimit: limit });
    try {
      for (const [app, trusted] of [
        [behind, true],
        [direct, false],
      ] as const) {
        await app.listen({ port: 0, host: '127.0.0.1' });
        const to = { port: (app.server.address() as { port: number }).port };
        const get = (token: string, client: string) =>
          raw(
            'GET',
            '/tenants',
            { ...bearer(token), host: '127.0.0.1', 'x-forwarded-for': client },
            undefined,
            to,
          );
        // One client of the proxy keeps sending a revoked token…
        for (let i = 0; i < 4; i++) await get(`m365s_revoked-${i}`, '192.0.2.10');
        expect((await get(operator, '192.0.2.10')).status).toBe(429);
        // …and another client of the same proxy signs in, unless the header is not believed.
        expect((await get(operator, '192.0.2.11')).status, `trusted: ${trusted}`).toBe(trusted ? 200 : 429);
      }
    } finally {
      await behind.close();
      await direct.close();
    }
  });
});
