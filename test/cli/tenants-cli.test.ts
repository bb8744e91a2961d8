import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { testEnv } from '../support/env.js';
import { cli } from '../support/cli.js';
import { testCertificate } from '../support/certificates.js';
import { FIXTURE_DESTINATIONS, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

let mongo: TestMongo;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  mongo = await testMongo('cli');
  dir = await mkdtemp(join(tmpdir(), 'm365sync-cli-'));
  env = {
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    M365SYNC_ENCRYPTION_KEYS: keyEntry('k1'),
  };
  for (const d of FIXTURE_DESTINATIONS)
    expect(await cli(env, 'destinations', 'allow', d.kind, d.entry)).toMatchObject({ code: 0 });
});
afterAll(async () => mongo.close());

describe('m365sync tenants', () => {
  it('adds a tenant from a YAML file plus flags, and shows it masked', async () => {
    const file = join(dir, 'tenant.yaml');
    await writeFile(file, toYaml(validTenantInput({ Tenant: { name: 'From File' } })));
    const added = await cli(
      env,
      'tenants',
      'add',
      '-f',
      file,
      '--set',
      'Microsoft 365.msol_user_api_page_size=7',
      '--hierarchy',
      'acme.uk',
    );
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(added.out).toMatch(/added tenant acme.uk\/From File \(id [0-9a-f]{24}\)/);

    const shown = await cli(env, 'tenants', 'show', 'acme.uk/From File', '--json');
    const view = JSON.parse(shown.out);
    expect(view['Microsoft 365'].msol_user_api_page_size).toBe(7);
    expect(view['Microsoft 365'].client_secret).toBe('********');
    expect(shown.out).not.toContain('graph-secret-value');
    expect(shown.out).not.toContain('Proxy-P4ss!');
  });

  it('adds from a JSON file; lists by hierarchy', async () => {
    const file = join(dir, 'tenant.json');
    await writeFile(
      file,
      JSON.stringify(validTenantInput({ hierarchy: 'acme.de', Tenant: { name: 'Json' } })),
    );
    expect((await cli(env, 'tenants', 'add', '--file', file)).code).toBe(0);
    const list = await cli(env, 'tenants', 'list', '--hierarchy', 'acme');
    expect(list.out.split('\n')).toEqual([
      expect.stringMatching(/^ID\s+HIERARCHY\s+NAME\s+POWERSHELL PROXY\s+EXCHANGE$/),
      expect.stringMatching(/acme.de\s+Json\s+ps1.example.net\s+no/),
      expect.stringMatching(/acme.uk\s+From File\s+ps1.example.net\s+no/),
    ]);
  });

  it('lists every problem with its field name, exits 2 and stores nothing', async () => {
    const before = await mongo.db.collection('tenants').countDocuments();
    const result = await cli(
      env,
      'tenants',
      'add',
      '--set',
      'Tenant.name=bad/name',
      '--set',
      'Microsoft 365.groups_api_page_size=1000',
      '--set',
      'Microsoft Teams Powershell.hostName=a;b',
    );
    expect(result.code).toBe(2);
    for (const field of [
      'Tenant.name',
      'Microsoft 365.groups_api_page_size',
      'Microsoft Teams Powershell.hostName',
      'Microsoft Teams Powershell.proxyPassword',
      'Microsoft 365.client_id',
    ]) {
      expect(result.err).toContain(`- ${field}: `);
    }
    expect(await mongo.db.collection('tenants').countDocuments()).toBe(before);
  });

  it('explains a bad file and a bad --set flag', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'Tenant: [unclosed');
    expect(await cli(env, 'tenants', 'add', '-f', file)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/file: is not JSON or YAML/),
    });
    expect(await cli(env, 'tenants', 'add', '-f', join(dir, 'missing.yaml'))).toMatchObject({
      code: 2,
      err: expect.stringMatching(/cannot be read \(ENOENT\)/),
    });
    expect(await cli(env, 'tenants', 'add', '--set', 'nodot=1')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/nodot: a --set flag is/),
    });
  });

  it('updates, clears a field, and removes only with --yes', async () => {
    expect((await cli(env, 'tenants', 'update', 'acme.de/Json', '--set', 'Tenant.description=')).code).toBe(
      0,
    );
    expect(
      JSON.parse((await cli(env, 'tenants', 'show', 'acme.de/Json', '--json')).out).Tenant.description,
    ).toBeUndefined();
    // Removing asks what happens to the imported data: --purge or --keep-data, one of them.
    expect(await cli(env, 'tenants', 'remove', 'acme.de/Json', '--yes')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--purge deletes them, --keep-data keeps them/),
    });
    expect((await cli(env, 'tenants', 'remove', 'acme.de/Json', '--keep-data')).code).toBe(1);
    expect(await cli(env, 'tenants', 'remove', 'acme.de/Json', '--keep-data', '--yes')).toMatchObject({
      code: 0,
      out: 'removed tenant acme.de/Json',
    });
    expect(await cli(env, 'tenants', 'show', 'acme.de/Json')).toMatchObject({
      code: 5, // not found (README, "Exit codes")
      err: expect.stringMatching(/NOT_FOUND.*No tenant/),
    });
  });

  it('stops with a clear message when the encryption key is missing (a command that writes secrets)', async () => {
    // Read-only commands (tenants list and show, runs) work without it: test/cli/scripting-cli.test.ts.
    const result = await cli(
      { ...env, M365SYNC_ENCRYPTION_KEYS: '' },
      'tenants',
      'update',
      'Anything',
      '--set',
      'Tenant.description=x',
    );
    expect(result).toMatchObject({
      code: 1,
      err: expect.stringMatching(/ENCRYPTION_KEY.*M365SYNC_ENCRYPTION_KEYS is not set/),
    });
  });
});

describe('m365sync certificates', () => {
  it('adds, lists with the thumbprint, and removes', async () => {
    const cert = await testCertificate('cli-cert');
    await writeFile(join(dir, 'c.pem'), cert.certificatePem);
    await writeFile(join(dir, 'k.pem'), cert.privateKeyPem);
    const added = await cli(
      env,
      'certificates',
      'add',
      'cli-cert',
      '--cert',
      join(dir, 'c.pem'),
      '--key',
      join(dir, 'k.pem'),
    );
    expect(added.out).toMatch(/added certificate cli-cert, thumbprint [0-9A-F]{40}/);
    const list = await cli(env, 'certificates', 'list');
    expect(list.out).toMatch(/cli-cert\s+sys\s+[0-9A-F]{40}/);
    expect(list.out + added.out).not.toContain(cert.privateKeyPem.split('\n')[1]);
    expect((await cli(env, 'certificates', 'remove', 'cli-cert')).code).toBe(0);
    expect((await cli(env, 'certificates', 'list')).out).toBe('no certificates');
  });
});

describe('m365sync destinations', () => {
  it('allows, lists and removes entries; refuses a bad kind or entry with exit 2', async () => {
    expect(await cli(env, 'destinations', 'allow', 'graph', 'Graph.Sovereign.Example:8443')).toMatchObject({
      code: 0,
      out: 'allowed graph graph.sovereign.example:8443',
    });
    const listed = await cli(env, 'destinations', 'list');
    expect(listed.out).toMatch(/^graph\s+graph\.sovereign\.example:8443/m);
    expect(listed.out).toMatch(/^powershell\s+ps1\.example\.net/m);
    const json = JSON.parse((await cli(env, 'destinations', 'list', '--kind', 'http_proxy', '--json')).out);
    expect(json.map((e: { entry: string }) => e.entry)).toEqual(['proxy.example']);

    const badKind = await cli(env, 'destinations', 'allow', 'smtp', 'mail.example');
    expect(badKind.code).toBe(2);
    expect(badKind.err).toContain('kind: must be one of graph, powershell, http_proxy');
    expect((await cli(env, 'destinations', 'allow', 'powershell', 'http://ps1/')).code).toBe(2);

    expect(await cli(env, 'destinations', 'remove', 'graph', 'graph.sovereign.example:8443')).toMatchObject({
      code: 0,
    });
    const gone = await cli(env, 'destinations', 'remove', 'graph', 'graph.sovereign.example:8443');
    expect(gone.code).toBe(5); // not found
    expect(gone.err).toContain('No allowed graph destination');
  });

  it('refuses a tenant naming a PowerShell proxy that is not allowed, naming the field', async () => {
    const added = await cli(
      env,
      'tenants',
      'add',
      '-f',
      join(dir, 'tenant.yaml'),
      '--set',
      'Tenant.name=Elsewhere',
      '--set',
      'Microsoft Teams Powershell.hostName=ps1.example.net,10.9.9.9:5986',
    );
    expect(added.code).toBe(2);
    expect(added.err).toContain(
      'Microsoft Teams Powershell.hostName: 10.9.9.9:5986 is not an allowed destination; an administrator allows it with: m365sync destinations allow powershell 10.9.9.9',
    );
  });
});

describe('the m365sync executable', () => {
  it('runs as a process and exits non-zero on bad input', async () => {
    const run = promisify(execFile);
    const bin = new URL('../../scripts/m365sync.sh', import.meta.url).pathname;
    const ok = await run(bin, ['tenants', 'list', '--hierarchy', 'acme.uk'], {
      env: { ...process.env, ...env },
    });
    expect(ok.stdout).toContain('From File');
    const bad = await run(bin, ['tenants', 'add', '--set', 'Tenant.name=x'], {
      env: { ...process.env, ...env },
    }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Microsoft 365.client_id: is required');
  });
});
