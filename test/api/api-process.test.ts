/**
 * `m365sync api` as a real process, and `m365sync tokens`: the API refuses to start when nobody could
 * sign in to it, the development flag is loopback only and says so loudly, and a token made by the
 * CLI is shown once, stored hashed and lets its holder in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../domain/access.js';
import { spawnCli } from '../support/child-process.js';
import { cli } from '../support/cli.js';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';

let mongo: TestMongo;
let redis: TestRedis;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  mongo = await testMongo('api-process');
  redis = await testRedis('api-process');
  env = {
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    M365SYNC_ENCRYPTION_KEYS: keyEntry('k1'),
    REDIS_URL: redis.url,
    M365SYNC_QUEUE_PREFIX: redis.prefix,
    M365SYNC_OPERATOR: 'tester@cli',
  };
});

afterAll(async () => {
  await redis?.close();
  await mongo?.close();
});

interface ApiProcess {
  /** Set when it listens. */
  url?: string;
  /** Set when it exited instead. */
  code?: number | null;
  out: string;
  err: string;
  stop(): Promise<void>;
}

/** Starts `m365sync api …` and resolves when it listens or exits, whichever comes first. */
function startApi(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<ApiProcess> {
  const child = spawnCli(['api', '--port', '0', ...args], { LOG_LEVEL: 'warn', ...env, ...extraEnv });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const state: ApiProcess = {
    out: '',
    err: '',
    async stop() {
      if (state.code === undefined) child.kill('SIGTERM');
      await exited;
    },
  };
  child.stderr.on('data', (chunk: Buffer) => (state.err += chunk.toString()));
  return new Promise((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      state.out += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(state.out)?.[1];
      if (url && !state.url) {
        state.url = url;
        resolve(state);
      }
    });
    void exited.then((code) => {
      state.code = code;
      resolve(state);
    });
  });
}

describe('m365sync api start-up', () => {
  it('refuses to start with no token stored and no bootstrap token, saying what to do', async () => {
    const api = await startApi([]);
    expect(api.url).toBeUndefined();
    expect(api.code).toBe(1);
    expect(api.err).toMatch(/error \(CONFIGURATION\): The API has no tokens/);
    expect(api.err).toMatch(/m365sync tokens create/);
  }, 90_000);

  it('refuses a bootstrap token too short to be safe', async () => {
    const api = await startApi([], { M365SYNC_API_TOKEN: 'short' });
    expect(api.code).toBe(1);
    expect(api.err).toMatch(/at least 32/);
    expect(api.err).not.toContain('short"');
  }, 90_000);

  it('refuses --insecure-dev-no-auth on anything but loopback', async () => {
    const api = await startApi(['--insecure-dev-no-auth', '--host', '0.0.0.0']);
    expect(api.code).toBe(1);
    expect(api.err).toMatch(/loopback/);
  }, 90_000);

  it('starts with --insecure-dev-no-auth on loopback, warning loudly, and acts as dev-no-auth', async () => {
    const api = await startApi(['--insecure-dev-no-auth', '--host', '127.0.0.1']);
    try {
      expect(api.url).toBeDefined();
      expect(api.err).toMatch(/WARNING: --insecure-dev-no-auth/);
      const response = await fetch(`${api.url}/tenants`);
      expect(response.status).toBe(200);
    } finally {
      await api.stop();
    }
  }, 90_000);

  it('starts with a bootstrap admin token, which then makes the first stored token', async () => {
    const bootstrap = 'b'.repeat(40);
    const api = await startApi([], { M365SYNC_API_TOKEN: bootstrap });
    try {
      expect(api.url).toBeDefined();
      expect((await fetch(`${api.url}/tenants`)).status).toBe(401);
      const created = await fetch(`${api.url}/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'first-admin', role: 'admin', scope: '*' }),
      });
      expect(created.status).toBe(201);
      expect(((await created.json()) as { createdBy: string }).createdBy).toBe('bootstrap');
    } finally {
      await api.stop();
    }
    expect(api.out + api.err).not.toContain(bootstrap);
  }, 90_000);
});

describe('m365sync tokens', () => {
  it('create prints the token once; list never shows it; the API lets it in; revoke shuts it out', async () => {
    const bad = await cli(env, 'tokens', 'create', '--name', 'x y', '--role', 'boss', '--scope', 'a..b');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/name: /);
    expect(bad.err).toMatch(/role: must be one of viewer, operator, admin/);
    expect(bad.err).toMatch(/scope: /);

    const created = await cli(
      env,
      'tokens',
      'create',
      '--name',
      'reseller-a',
      '--role',
      'viewer',
      '--scope',
      'provider.resellerA',
    );
    expect(created.code).toBe(0);
    const token = /^(m365s_\S+)$/m.exec(created.out)?.[1];
    expect(token).toMatch(/^m365s_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/only time/);

    const stored = await mongo.db.collection('api_tokens').findOne({ name: 'reseller-a' });
    expect(stored).toMatchObject({ role: 'viewer', scope: 'provider.resellerA', hash: hashToken(token!) });
    expect(JSON.stringify(stored)).not.toContain(token!);

    const listed = await cli(env, 'tokens', 'list');
    expect(listed.out).toMatch(/reseller-a\s+viewer\s+provider\.resellerA/);
    expect(listed.out).toContain('tester@cli');
    expect(listed.out).not.toContain(token!);
    expect((await cli(env, 'tokens', 'list', '--json')).out).not.toContain(token!);

    expect(
      (await cli(env, 'tokens', 'create', '--name', 'reseller-a', '--role', 'viewer', '--scope', '*')).code,
    ).toBe(2);

    const api = await startApi([]);
    try {
      expect(api.url).toBeDefined();
      const get = () => fetch(`${api.url}/tenants`, { headers: { authorization: `Bearer ${token}` } });
      expect((await get()).status).toBe(200);
      const revoked = await cli(env, 'tokens', 'revoke', 'reseller-a');
      expect(revoked.code).toBe(0);
      expect((await get()).status).toBe(401);
    } finally {
      await api.stop();
    }
    expect((await cli(env, 'tokens', 'list')).out).not.toContain('reseller-a');
    expect((await cli(env, 'tokens', 'list', '--all')).out).toContain('reseller-a');
    expect((await cli(env, 'tokens', 'revoke', 'reseller-a')).code).toBe(5); // not found in its scope
  }, 90_000);
});
