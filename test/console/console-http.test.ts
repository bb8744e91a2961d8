/**
 * The console's access over real HTTP (the API on loopback, real Redis for sessions, the MongoDB-wire
 * server), without a browser: sign-in trades a token for an HttpOnly, SameSite=Strict cookie; every
 * page carries the strict Content-Security-Policy; a POST needs the session's anti-forgery token and
 * this API's Origin; a viewer is refused an action (403) and nothing is done; a tenant or run outside
 * the caller's scope is 404; a revoked token's session ends at its next request.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { validTenantInput } from '../support/fixtures.js';

let api: TestApi;
const tokens: Record<string, string> = {};
let inScope: string;
let outOfScope: string;
let outOfScopeRun: string;

beforeAll(async () => {
  api = await startTestApi('h-console-http', async (stores, mongo) => {
    for (const [name, role, scope] of [
      ['watcher', 'viewer', '*'],
      ['runner', 'operator', '*'],
      ['a-runner', 'operator', 'provider.resellerA'],
      ['boss', 'admin', '*'],
      ['a-boss', 'admin', 'provider.resellerA'],
    ] as const)
      tokens[name] = (await stores.tokens.create({ name, role, scope }, 'test')).token;
    inScope = (await stores.tenants.add(validTenantInput({ hierarchy: 'provider.resellerA.one' }))).id;
    outOfScope = (
      await stores.tenants.add(
        validTenantInput({ hierarchy: 'provider.resellerB.two', Tenant: { name: 'Hidden Co' } }),
      )
    ).id;
    const runs = new SyncRunStore(mongo.db);
    outOfScopeRun = new ObjectId().toHexString();
    await runs.recordQueued({
      id: outOfScopeRun,
      tenantId: outOfScope,
      hierarchy: 'provider.resellerB.two',
      trigger: 'cli',
      requestedBy: 'someone',
      jobId: outOfScopeRun,
    });
  });
}, 60_000);

afterAll(async () => api?.close());

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function request(
  path: string,
  options: { cookie?: string; form?: Record<string, string>; origin?: string | null } = {},
): Promise<Answer> {
  const origin = options.origin === undefined ? api.base : options.origin;
  const response = await fetch(`${api.base}${path}`, {
    method: options.form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...(options.form && origin ? { origin } : {}),
    },
    ...(options.form ? { body: new URLSearchParams(options.form).toString() } : {}),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function signIn(token: string): Promise<{ cookie: string; csrf: string }> {
  const answer = await request('/console/sign-in', { form: { token } });
  expect(answer.status).toBe(303);
  const setCookie = answer.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  const cookie = setCookie.split(';')[0]!;
  const fleet = await request('/console', { cookie });
  expect(fleet.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(fleet.text)![1]!;
  return { cookie, csrf };
}

describe('the console over HTTP', () => {
  it('sends a page without a session to the sign-in form, and refuses a token that is not one', async () => {
    const fleet = await request('/console');
    expect(fleet.status).toBe(303);
    expect(fleet.headers.get('location')).toBe('/console/sign-in');
    const form = await request('/console/sign-in');
    expect(form.status).toBe(200);
    expect(form.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(form.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    const refused = await request('/console/sign-in', { form: { token: 'm365s_not-a-token' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('set-cookie')).toBeNull();
  });

  it('stores only hashes in Redis: neither the token nor the session id', async () => {
    const { cookie } = await signIn(tokens.watcher!);
    const sessionId = cookie.split('=')[1]!;
    const keys = await api.redis.redis.keys(`${api.redis.prefix}*console-session*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).not.toContain(sessionId);
      const value = (await api.redis.redis.get(key))!;
      expect(value).not.toContain(tokens.watcher);
      expect(value).not.toContain(sessionId);
      expect(await api.redis.redis.ttl(key)).toBeGreaterThan(0);
    }
  });

  it('refuses a viewer an action (403) and starts no run', async () => {
    const { cookie, csrf } = await signIn(tokens.watcher!);
    const tenant = await request(`/console/tenants/${inScope}`, { cookie });
    expect(tenant.status).toBe(200);
    expect(tenant.text).not.toContain('data-action=');
    const posted = await request(`/console/tenants/${inScope}/sync`, {
      cookie,
      form: { csrf, mode: 'full' },
    });
    expect(posted.status).toBe(403);
    expect(await api.stores.runs.list({ tenantId: inScope })).toEqual([]);
  });

  it('refuses a POST without the anti-forgery token, or from another origin', async () => {
    const { cookie, csrf } = await signIn(tokens.runner!);
    const page = await request(`/console/tenants/${inScope}`, { cookie });
    expect(page.text).toContain('data-action="sync-full"');
    const path = `/console/tenants/${inScope}/sync`;
    expect((await request(path, { cookie, form: { mode: 'full' } })).status).toBe(403);
    expect((await request(path, { cookie, form: { csrf: 'x'.repeat(43), mode: 'full' } })).status).toBe(403);
    expect((await request(path, { cookie, form: { csrf }, origin: 'https://evil.example' })).status).toBe(
      403,
    );
    expect((await request(path, { cookie, form: { csrf }, origin: null })).status).toBe(403);
    expect(await api.stores.runs.list({ tenantId: inScope })).toEqual([]);
    // The same form from the console itself goes through, recorded with the token's name.
    const sent = await request(path, { cookie, form: { csrf, mode: 'full' } });
    expect(sent.status).toBe(303);
    const [run] = await api.stores.runs.list({ tenantId: inScope });
    expect(run).toMatchObject({ requestedBy: 'runner', trigger: 'operator' });
    expect(sent.headers.get('location')).toBe(`/console/runs/${run!.id}`);
  });

  it('answers 404 for a tenant or run outside the scope, as for one that does not exist', async () => {
    const { cookie, csrf } = await signIn(tokens['a-runner']!);
    const hidden = await request(`/console/tenants/${outOfScope}`, { cookie });
    expect(hidden.status).toBe(404);
    expect(hidden.text).not.toContain('Hidden Co');
    expect((await request(`/console/tenants/${new ObjectId().toHexString()}`, { cookie })).status).toBe(404);
    expect((await request(`/console/runs/${outOfScopeRun}`, { cookie })).status).toBe(404);
    expect((await request(`/console/runs/${outOfScopeRun}/cancel`, { cookie, form: { csrf } })).status).toBe(
      404,
    );
    const fleet = await request('/console', { cookie });
    expect(fleet.text).toContain(inScope);
    expect(fleet.text).not.toContain(outOfScope);
  });

  it('pauses and resumes the queue for an admin whose scope is *, and for no one else', async () => {
    for (const name of ['runner', 'a-boss']) {
      const { cookie, csrf } = await signIn(tokens[name]!);
      expect((await request('/console/queue', { cookie })).text).not.toContain('data-action="pause"');
      expect((await request('/console/queue/pause', { cookie, form: { csrf } })).status).toBe(403);
    }
    expect(await api.queue.isPaused()).toBe(false);
    const { cookie, csrf } = await signIn(tokens.boss!);
    expect((await request('/console/queue', { cookie })).text).toContain('data-action="pause"');
    const paused = await request('/console/queue/pause', { cookie, form: { csrf } });
    expect(paused.status).toBe(303);
    expect(await api.queue.isPaused()).toBe(true);
    expect((await request('/console/queue?done=paused', { cookie })).text).toContain('data-action="resume"');
    expect((await request('/console/queue/resume', { cookie, form: { csrf } })).status).toBe(303);
    expect(await api.queue.isPaused()).toBe(false);
  });

  it('ends the session of a revoked token at its next request', async () => {
    const { token } = await api.stores.tokens.create({ name: 'brief', role: 'viewer', scope: '*' }, 'test');
    const { cookie } = await signIn(token);
    await api.stores.tokens.revoke('brief', 'test');
    const after = await request('/console', { cookie });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/console/sign-in');
  });
});
