import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores } from '../../connectors/mongo/stores.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

let mongo: TestMongo;
let app: FastifyInstance;
let base: string;
let token: string;

beforeAll(async () => {
  mongo = await testMongo('api');
  const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  token = (await stores.tokens.create({ name: 'tenants-test', role: 'admin', scope: '*' }, 'test')).token;
  await allowFixtureDestinations(stores.destinations);
  app = buildApi({ stores, authentication: { tokens: stores.tokens } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app.close();
  await mongo.close();
});

const call = (method: string, path: string, body?: unknown, auth = true) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });

describe('tenants API over HTTP', () => {
  it('needs the API token', async () => {
    expect((await call('GET', '/tenants', undefined, false)).status).toBe(401);
    expect((await call('GET', '/health', undefined, false)).status).toBe(200);
  });

  it('creates, reads, updates and deletes a tenant without ever returning a password', async () => {
    const created = await call('POST', '/tenants', validTenantInput({ Tenant: { name: 'Api Tenant' } }));
    expect(created.status).toBe(201);
    const body = await created.text();
    for (const secret of ['Proxy-P4ss!', 'Teams-P4ss!', 'graph-secret-value'])
      expect(body).not.toContain(secret);
    const { id } = JSON.parse(body);

    const patched = await call('PATCH', `/tenants/${id}`, { 'Microsoft 365': { groups_api_page_size: 50 } });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as Record<string, unknown>)['Microsoft 365']).toMatchObject({
      groups_api_page_size: 50,
      client_secret: '********',
    });

    const list = await (await call('GET', '/tenants?hierarchy=provider')).text();
    expect(list).toContain('Api Tenant');
    expect(list).not.toContain('graph-secret-value');

    expect((await call('DELETE', `/tenants/${id}`)).status).toBe(200);
    expect((await call('GET', `/tenants/${id}`)).status).toBe(404);
  });

  it('answers bad input with 400 and every problem named', async () => {
    const response = await call('POST', '/tenants', { Tenant: { name: 'x/y' } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; problems: { field: string }[] };
    expect(body.code).toBe('INVALID_INPUT');
    expect(body.problems.map((p: { field: string }) => p.field)).toEqual(
      expect.arrayContaining([
        'Tenant.name',
        'Microsoft 365.client_id',
        'Microsoft Teams Powershell.proxyPassword',
      ]),
    );
    expect((await call('GET', '/tenants')).status).toBe(200);
    expect(await (await call('GET', '/tenants')).json()).toEqual([]);
  });

  it('serves Prometheus metrics', async () => {
    const response = await call('GET', '/metrics', undefined, false);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('process_cpu_seconds_total');
  });
});
