/**
 * Output that scripts can trust: the real `m365sync` as its own process at LOG_LEVEL=debug prints
 * exactly one JSON document on stdout with --json (results and errors alike) while its log lines go
 * to stderr; not found is exit 5 and NOT_FOUND for every kind of thing; `sync --wait --timeout` takes
 * durations and, when it expires, says whether the run still waits or runs (exit 6). Real processes,
 * real Redis and MongoDB, the in-process worker and the simulated tenant.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliProcess } from '../support/cli.js';
import { startEngine, type Engine } from '../e2e/support/engine.js';
import { root, until } from '../ops/support/processes.js';

let engine: Engine;
let env: NodeJS.ProcessEnv;
let dir: string;
let tenantRef: string;
let tenantId: string;

beforeAll(async () => {
  engine = await startEngine('cli-json-output', { dataset: { seed: 11, users: 30 }, enableExchange: true });
  const tenant = await engine.stores.tenants.add(engine.sim.tenantInput);
  tenantRef = `${tenant.hierarchy}/${tenant.Tenant.name}`;
  tenantId = tenant.id;
  dir = await mkdtemp(join(tmpdir(), 'm365sync-json-output-'));
  await writeFile(join(dir, 'graph-ca.pem'), engine.sim.ca);
  env = {
    ...engine.cliEnv('json@cli'),
    LOG_LEVEL: 'debug',
    M365SYNC_GRAPH_CA_FILE: join(dir, 'graph-ca.pem'),
    M365SYNC_WINRM_SCHEME: 'http',
  };
}, 120_000);

afterAll(async () => {
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** stdout as one JSON document: JSON.parse fails on anything before, after or between. */
function oneDocument(stdout: string): unknown {
  expect(stdout.trim()).toMatch(/^[[{]/);
  return JSON.parse(stdout);
}

describe(
  '--json at LOG_LEVEL=debug: one JSON document on stdout, logs on stderr',
  { timeout: 120_000 },
  () => {
    it('--version --json', async () => {
      const version = (JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { version: string })
        .version;
      const result = await cliProcess(env, '--version', '--json');
      expect(result.code).toBe(0);
      expect(oneDocument(result.stdout)).toEqual({ version });
    });

    it('test-connection: every check measured (durationMs > 0), the WinRM warnings on stderr', async () => {
      const result = await cliProcess(env, 'test-connection', tenantRef, '--json');
      expect(result.code, result.stderr).toBe(0);
      const checks = oneDocument(result.stdout) as { check: string; ok: boolean; durationMs: number }[];
      expect(checks.map((c) => c.check).sort()).toEqual(['exchange', 'graph', 'teams']);
      for (const c of checks) expect(c.durationMs, c.check).toBeGreaterThan(0);
      // The log lines the issue found on stdout: JSON lines on stderr now.
      expect(result.stderr).toContain('WinRM over HTTP with Basic authentication');
      expect(result.stderr.split('\n').some((l) => /^\{"level":\d+/.test(l))).toBe(true);
    });

    it('sync --wait and runs list', async () => {
      const synced = await cliProcess(
        env,
        'sync',
        tenantRef,
        '--kinds',
        'users,licences',
        '--wait',
        '--json',
      );
      expect(synced.code, synced.stderr).toBe(0);
      const body = oneDocument(synced.stdout) as { status: string; runId: string; run: { tenantId: string } };
      expect(body).toMatchObject({ status: 'succeeded', run: { tenantId } });

      const listed = await cliProcess(env, 'runs', 'list', '--tenant', tenantRef, '--json');
      expect(listed.code, listed.stderr).toBe(0);
      const runs = oneDocument(listed.stdout) as { id: string; status: string }[];
      expect(runs.map((r) => r.id)).toContain(body.runId);
    });

    it('errors: a bad option value, a tenant and a run not found', async () => {
      const bad = await cliProcess(env, 'sync', tenantRef, '--wait', '--timeout', '5x', '--json');
      expect(bad.code).toBe(2);
      const badBody = oneDocument(bad.stdout) as { code: string; message: string };
      expect(badBody.code).toBe('INVALID_INPUT');
      expect(badBody.message).toContain('90s, 15m, 4h');

      const tenant = await cliProcess(env, 'tenants', 'show', 'nope', '--json');
      expect(tenant.code).toBe(5);
      expect(oneDocument(tenant.stdout)).toMatchObject({ code: 'NOT_FOUND', problems: [] });

      const run = await cliProcess(env, 'runs', 'show', '0123456789abcdef01234567', '--json');
      expect(run.code).toBe(5);
      expect(oneDocument(run.stdout)).toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(/^No sync run/),
      });
    });
  },
);

describe('not found: one exit code (5) and one error code (NOT_FOUND)', () => {
  it.each([
    ['tenants', 'show', 'nope'],
    ['runs', 'show', 'not-a-run'],
    ['runs', 'show', '0123456789abcdef01234567'],
    ['runs', 'cancel', '0123456789abcdef01234567'],
    ['runs', 'approve-deletes', '0123456789abcdef01234567'],
    ['schedule', 'show', 'nope'],
    ['tokens', 'revoke', 'nope'],
    ['webhooks', 'remove', 'nope'],
    ['destinations', 'remove', 'graph', 'nowhere.example:443'],
  ])('%s %s %s', async (...argv) => {
    const plain = await cli(env, ...argv);
    expect(plain.code, plain.err).toBe(5);
    expect(plain.err).toMatch(/^error \(NOT_FOUND\): /);
    const json = await cli(env, ...argv, '--json');
    expect(json.code).toBe(5);
    expect(JSON.parse(json.out)).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe(
  'sync --wait --timeout: a duration; when it expires, where the run is (exit 6)',
  { timeout: 120_000 },
  () => {
    it('says the run is still waiting when no worker took it', async () => {
      await engine.queue.pause();
      try {
        const result = await cliProcess(
          env,
          'sync',
          tenantRef,
          '--kinds',
          'users',
          '--wait',
          '--timeout',
          '2s',
          '--json',
        );
        expect(result.code, result.stderr).toBe(6);
        const body = oneDocument(result.stdout) as {
          status: string;
          timedOut: boolean;
          runId: string;
          message: string;
        };
        expect(body).toMatchObject({ status: 'queued', timedOut: true });
        expect(body.message).toMatch(
          /^stopped waiting after 2s: the run is still waiting to start .*runs show [0-9a-f]{24}/,
        );
        expect((await cli(env, 'runs', 'cancel', body.runId)).code).toBe(0);
      } finally {
        await engine.queue.resume();
      }
      // Without --json: the same, said on stderr.
      await engine.queue.pause();
      try {
        const text = await cliProcess(
          env,
          'sync',
          tenantRef,
          '--kinds',
          'users',
          '--wait',
          '--timeout',
          '1s',
        );
        expect(text.code).toBe(6);
        expect(text.stderr).toMatch(/stopped waiting after 1s: the run is still waiting to start/);
        const runId = /runs show ([0-9a-f]{24})/.exec(text.stderr)![1]!;
        expect((await cli(env, 'runs', 'cancel', runId)).code).toBe(0);
      } finally {
        await engine.queue.resume();
      }
    });

    it('says the run is still running when a worker has it', async () => {
      // Each Graph read takes 3 s: the run is still going when the 2 s wait ends.
      engine.sim.graph.setLatency(3000);
      let runId: string;
      try {
        const result = await cliProcess(
          env,
          'sync',
          tenantRef,
          '--kinds',
          'users',
          '--wait',
          '--timeout',
          '2s',
          '--json',
        );
        expect(result.code, result.stderr).toBe(6);
        const body = oneDocument(result.stdout) as { status: string; timedOut: boolean; runId: string };
        expect(body).toMatchObject({ status: 'running', timedOut: true });
        runId = body.runId;
      } finally {
        engine.sim.graph.setLatency(0);
      }
      // It went on: it ends by itself.
      const ended = await until('the run to end', async () => {
        const run = await engine.stores.runs.get(runId);
        return run && run.status !== 'running' && run.status !== 'queued' ? run : undefined;
      });
      expect(ended.status).toBe('succeeded');
    });
  },
);
