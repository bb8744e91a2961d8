/**
 * The command line as scripts and cron use it: --version, --json on results and errors, distinct exit
 * codes per run outcome, `sync --all --wait`, validated option values, read-only commands without the
 * encryption key, Redis errors said like MongoDB's, a progress display that ends on the true count,
 * and the `bin` without npm's banner. Real program (in-process, and as a child process), real worker,
 * real Redis and MongoDB, a simulated tenant.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE } from '../../connectors/mongo/encryption.js';
import type { Command } from 'commander';
import { createCliContext } from '../../cli/commands/context.js';
import { buildProgram } from '../../cli/program.js';
import { cli } from '../support/cli.js';
import { startEngine, type Engine } from '../e2e/support/engine.js';
import { root } from '../ops/support/processes.js';

const run = promisify(execFile);
let engine: Engine;
let env: NodeJS.ProcessEnv;
let tenantRef: string;
const version = (JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { version: string }).version;

beforeAll(async () => {
  engine = await startEngine('cli-scripting', { dataset: { seed: 5, users: 60 }, enableExchange: true });
  const tenant = await engine.stores.tenants.add(engine.sim.tenantInput);
  tenantRef = `${tenant.hierarchy}/${tenant.Tenant.name}`;
  env = engine.cliEnv('script@cli');
}, 120_000);
afterAll(async () => engine?.close());

const parsed = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe('m365sync for scripts', () => {
  it('prints its version', async () => {
    const result = await cli({}, '--version');
    expect(result).toMatchObject({ code: 0, out: version });
  });

  it('refuses option values that are not valid, naming the option (and as JSON with --json)', async () => {
    const limit = await cli(env, 'runs', 'list', '--limit', 'abc');
    expect(limit.code).toBe(2);
    expect(limit.err).toContain("option '--limit <n>' argument 'abc' is invalid");
    expect(limit.err).toContain('whole number from 1 to 500');
    const status = await cli(env, 'runs', 'list', '--status', 'bogus');
    expect(status.code).toBe(2);
    expect(status.err).toContain("argument 'bogus' is invalid");
    expect(status.err).toContain('succeeded');

    const json = await cli(env, 'runs', 'list', '--limit', '0', '--json');
    expect(json.code).toBe(2);
    expect(json.err).toBe('');
    expect(parsed(json.out)).toMatchObject({ code: 'INVALID_INPUT', problems: [] });
    expect(parsed(json.out).message).toContain('--limit');

    const both = await cli(env, 'sync', tenantRef, '--all', '--json');
    expect(both.code).toBe(2);
    expect(parsed(both.out)).toMatchObject({
      code: 'INVALID_INPUT',
      problems: [{ field: 'tenant', message: 'give a tenant or --all, not both' }],
    });
  });

  it('lists tenants and runs without the encryption key; writing still needs it', async () => {
    const { [ENCRYPTION_KEYS_VARIABLE]: _key, ...withoutKey } = env;
    const tenants = await cli(withoutKey, 'tenants', 'list', '--json');
    expect(tenants.code).toBe(0);
    expect((JSON.parse(tenants.out) as unknown[]).length).toBe(1);
    expect(tenants.out).not.toContain(String(engine.sim.tenantInput['Microsoft Teams']?.tenantPassword));
    expect(tenants.out).toContain('********');
    expect((await cli(withoutKey, 'tenants', 'show', tenantRef)).code).toBe(0);
    expect((await cli(withoutKey, 'runs', 'list')).code).toBe(0);
    const add = await cli(
      withoutKey,
      'tenants',
      'update',
      tenantRef,
      '--set',
      'Tenant.description=x',
      '--json',
    );
    expect(add.code).toBe(1);
    expect(parsed(add.out)).toMatchObject({ code: 'ENCRYPTION_KEY' });
    expect(add.out).toContain(ENCRYPTION_KEYS_VARIABLE);
  });

  it('says Redis is unreachable the way it says MongoDB is (error (CODE): what to do)', async () => {
    const away = { ...env, REDIS_URL: 'redis://:hunter2@127.0.0.1:1' };
    const plain = await cli(away, 'sync', tenantRef);
    expect(plain.code).toBe(1);
    expect(plain.err).toMatch(
      /^error \(SERVICE_UNAVAILABLE\): Redis does not answer at redis:\/\/:\*\*\*@127\.0\.0\.1:1 .*start it \(npm run services\) or set REDIS_URL\.$/,
    );
    expect(plain.err).not.toContain('hunter2');
    const json = await cli(away, 'sync', tenantRef, '--json');
    expect(parsed(json.out)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', problems: [] });
  });

  it('sync --wait follows the job events to the true count, and exits 0 when the run succeeded', async () => {
    const result = await cli(env, 'sync', tenantRef, '--wait');
    expect(result.code, result.err).toBe(0);
    // Not a terminal: plain lines, one per kind, ending on the run's own count.
    const kindLines = result.err.split('\n').filter((l) => /: done, \d+ objects \(\d+\/16 kinds\)$/.test(l));
    expect(kindLines).toHaveLength(16);
    expect(result.err).toContain('16/16 kinds finished');
    expect(result.out).toMatch(/run [0-9a-f]{24}: succeeded/);
  });

  it('sync --wait --json prints the run, and partial exits 3', async () => {
    engine.sim.setPowerShellFaults({ crashAfterObjects: 20 });
    try {
      const result = await cli(env, 'sync', tenantRef, '--wait', '--json');
      expect(result.code, result.out).toBe(3);
      const body = parsed(result.out);
      expect(body).toMatchObject({ status: 'partial', run: { status: 'partial' } });
      expect(result.err).toBe(''); // no progress display with --json
    } finally {
      engine.sim.setPowerShellFaults({});
    }
  });

  it('needs_review exits 4, and sync --all --wait waits for every tenant and sums up (worst outcome decides)', async () => {
    // Half the users gone: mass-delete protection holds the sweep.
    const ds = structuredClone(engine.sim.dataset());
    ds.users = ds.users.filter((_, i) => i % 2 === 0);
    engine.sim.setDataset(ds);
    const held = await cli(env, 'sync', tenantRef, '--kinds', 'users', '--wait', '--json');
    expect(held.code, held.out).toBe(4);
    expect(parsed(held.out)).toMatchObject({ status: 'needs_review' });

    await engine.stores.tenants.add({ ...engine.sim.tenantInput, Tenant: { name: 'Second' } });
    const all = await cli(env, 'sync', '--all', '--kinds', 'users', '--wait', '--json');
    const body = parsed(all.out) as { summary: Record<string, number>; runs: { status: string }[] };
    expect(body.runs).toHaveLength(2);
    // The first tenant's sweep is held again (still half gone); the new tenant's first run succeeds.
    expect(body.summary).toEqual({ needs_review: 1, succeeded: 1 });
    expect(all.code).toBe(4);

    const text = await cli(env, 'sync', '--all', '--kinds', 'licences', '--wait');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain('2 run(s): 2 succeeded');
  });

  it('test-connection and schedule show speak JSON too', async () => {
    const caFile = join(await mkdtemp(join(tmpdir(), 'm365sync-cli-')), 'graph-ca.pem');
    await writeFile(caFile, engine.sim.ca);
    const reach = { ...env, M365SYNC_GRAPH_CA_FILE: caFile, M365SYNC_WINRM_SCHEME: 'http' };
    const check = await cli(reach, 'test-connection', tenantRef, '--json');
    expect(check.code, check.out).toBe(0);
    expect((JSON.parse(check.out) as { check: string; ok: boolean }[]).every((c) => c.ok)).toBe(true);
    const schedule = await cli(env, 'schedule', 'show', tenantRef, '--json');
    expect(schedule.code, schedule.out).toBe(0);
    expect(parsed(schedule.out)).toMatchObject({ enabled: true, source: expect.any(String) });
  });

  it('every command takes --json; those without a JSON shape of their own print {messages}', async () => {
    const program = buildProgram(createCliContext({ out: () => {}, err: () => {} }, {}));
    const leaves: Command[] = [];
    const walk = (c: Command) => (c.commands.length ? c.commands.forEach(walk) : leaves.push(c));
    program.commands.forEach(walk);
    expect(leaves.length).toBeGreaterThan(20);
    for (const c of leaves)
      expect(
        c.options.map((o) => o.long),
        c.name(),
      ).toContain('--json');
    const set = await cli(env, 'kinds', 'set', 'nightly-lite', 'users,licences', '--json');
    expect(set.code, set.out).toBe(0);
    expect(parsed(set.out)).toEqual({ messages: ['nightly-lite: users,licences'] });
  });

  it('the bin runs without npm: `npx m365sync` and `npm run --silent m365sync` print only the result', async () => {
    const clean = { PATH: process.env.PATH, HOME: process.env.HOME };
    const npx = await run('npx', ['--no-install', 'm365sync', '--version'], { cwd: root, env: clean });
    expect(npx.stdout).toBe(`${version}\n`);
    const npm = await run('npm', ['run', '--silent', 'm365sync', '--', '--version'], {
      cwd: root,
      env: clean,
    });
    expect(npm.stdout).toBe(`${version}\n`);
  });
});
