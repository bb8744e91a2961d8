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
type TenantShown = Record<string, Record<string, unknown>>;

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

  it('refuses a cloud change that keeps the Teams passwords, even with both Graph URLs kept as they were', async () => {
    const created = await call(
      'POST',
      '/tenants',
      validTenantInput({
        Tenant: { name: 'Cloud Tenant' },
        'Microsoft Teams HTTP Proxy': {
          use_proxy: true,
          use_http_proxy_auth: true,
          http_proxy_username: 'teams-proxy',
          http_proxy_password: 'Teams-Proxy-P4ss!',
        },
      }),
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    // The Graph URLs stay where they were: only the Teams script's environment follows the cloud.
    const sameGraph = {
      cloud: 'china',
      graph_base_url: 'https://graph.microsoft.com',
      authority_host: 'https://login.microsoftonline.com',
    };
    const refused = await call('PATCH', `/tenants/${id}`, {
      'Microsoft 365': sameGraph,
      'Microsoft Teams': { tenantPassword: '********' },
    });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { code: string; problems: { field: string; message: string }[] };
    expect(body.code).toBe('INVALID_INPUT');
    expect(body.problems.map((p) => p.field).sort()).toEqual([
      'Microsoft Teams HTTP Proxy.http_proxy_password',
      'Microsoft Teams.tenantPassword',
    ]);
    expect(body.problems[0]!.message).toContain('Microsoft 365.cloud changed');
    expect(
      ((await (await call('GET', `/tenants/${id}`)).json()) as TenantShown)['Microsoft 365']?.cloud,
    ).toBe('global');

    const given = await call('PATCH', `/tenants/${id}`, {
      'Microsoft 365': sameGraph,
      'Microsoft Teams': { tenantPassword: 'China-Teams-P4ss!' },
      'Microsoft Teams HTTP Proxy': { http_proxy_password: 'China-Proxy-P4ss!' },
    });
    expect(given.status).toBe(200);
    expect(((await given.json()) as TenantShown)['Microsoft 365']?.cloud).toBe('china');
  });

  it('serves Prometheus metrics', async () => {
    const response = await call('GET', '/metrics', undefined, false);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('process_cpu_seconds_total');
  });
});
