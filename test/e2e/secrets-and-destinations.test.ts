/**
 * Secrets go only where they belong, end to end: a real worker syncs a simulated tenant, and capturing
 * servers (real listeners on loopback that record what they receive) stand in for an endpoint an
 * editor would like to collect secrets on. After every kind of endpoint change no stored secret
 * reaches the new endpoint; a destination that is not allowed is refused before any connection;
 * certificates serve only tenants at or under their place in the hierarchy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { TENANTS_COLLECTION } from '../../connectors/mongo/tenants.js';
import { CERTIFICATES_COLLECTION } from '../../connectors/mongo/certificates.js';
import { ValidationError } from '../../domain/errors.js';
import { MASK, type TenantInput } from '../../domain/tenant.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { generateAppCertificate, type AppCertificate } from '../../simulators/graph/certificates.js';
import { SIMULATED_CREDENTIALS as SIM } from '../../simulators/m365.js';
import { cli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startHttpCapture, startHttpsCapture, type CaptureServer } from '../support/capture.js';
import { startEngine, type Engine } from './support/engine.js';
import { ObjectId } from 'mongodb';

let engine: Engine;
let tenantId: string;
let appCert: AppCertificate;
let otherCert: AppCertificate;
const captures: CaptureServer[] = [];

/** A secret in the forms it could travel in: as is, URL-encoded, inside a Basic header. */
function forms(secret: string, user?: string): string[] {
  const out = [secret, encodeURIComponent(secret)];
  if (user) out.push(Buffer.from(`${user}:${secret}`).toString('base64'));
  return out;
}

function expectNoneOf(text: string, secrets: string[]): void {
  for (const s of secrets) expect(text).not.toContain(s);
}

/**
 * Enqueues a sync and waits until its attempt is over: completed, failed, or failed and set to retry
 * later (a sign-in refused by a capturing server is retried; the retry is dropped here).
 */
async function syncEnd(kinds?: string[]): Promise<{ state: string; reason: string }> {
  const { jobId } = await enqueueUnrecorded(engine.queue, {
    tenantId,
    trigger: 'cli',
    requestedBy: 'secrets-test',
    ...(kinds ? { kinds } : {}),
  });
  return eventually(async () => {
    const job = await engine.queue.getJob(jobId);
    const state = job ? await job.getState() : 'missing';
    if (state === 'completed' || state === 'failed' || state === 'delayed' || state === 'missing') {
      if (state === 'delayed') await engine.queue.drain(true);
      return { state, reason: job?.failedReason ?? '' };
    }
    return undefined;
  }, 60_000);
}

async function capture(kind: 'http' | 'https', allow?: 'graph' | 'powershell' | 'http_proxy') {
  const server = kind === 'https' ? await startHttpsCapture(engine.sim.graph.tls) : await startHttpCapture();
  captures.push(server);
  if (allow) await engine.stores.destinations.allow(allow, server.host);
  return server;
}

/** Back to the simulated tenant as registered (every secret given, so no rule stands in the way). */
async function restore(): Promise<void> {
  await engine.stores.tenants.update(tenantId, {
    ...engine.sim.tenantInput,
    'Microsoft 365': {
      ...engine.sim.tenantInput['Microsoft 365'],
      https_proxy: null,
      proxy_username: null,
      proxy_password: null,
    },
  } as TenantInput);
}

beforeAll(async () => {
  [appCert, otherCert] = await Promise.all([
    generateAppCertificate('ours'),
    generateAppCertificate('another customer'),
  ]);
  engine = await startEngine('secrets', {
    dataset: { seed: 9, users: 30 },
    appCertificates: [appCert.certificatePem, otherCert.certificatePem],
  });
  tenantId = (await engine.stores.tenants.add(engine.sim.tenantInput)).id;
}, 60_000);
afterAll(async () => {
  await Promise.all(captures.map((c) => c.close()));
  await engine?.close();
});

describe('an endpoint change must give the secrets that go there again', () => {
  it('authority host: refused while the client secret is kept; given again, only the new one reaches the new host', async () => {
    const evil = await capture('https', 'graph');
    const url = `https://${evil.host}`;
    const refused = engine.stores.tenants.update(tenantId, { 'Microsoft 365': { authority_host: url } });
    await expect(refused).rejects.toThrow(ValidationError);
    await expect(refused).rejects.toThrow(/Microsoft 365.client_secret: must be given again.*authority_host/);
    await expect(
      engine.stores.tenants.update(tenantId, {
        'Microsoft 365': { authority_host: url, client_secret: MASK },
      }),
    ).rejects.toThrow(/client_secret: must be given again/);
    // The same through the CLI (exit 2, nothing stored).
    const viaCli = await cli(
      engine.cliEnv('editor'),
      'tenants',
      'update',
      tenantId,
      '--set',
      `Microsoft 365.authority_host=${url}`,
    );
    expect(viaCli.code).toBe(2);
    expect(viaCli.err).toContain('Microsoft 365.client_secret: must be given again');
    // Nothing changed: the next sync signs in where it did, and nothing reached the capture.
    expect((await syncEnd(['licences'])).state).toBe('completed');
    expect(evil.connections()).toBe(0);

    // Given again (a value the editor knows), the change is accepted; the new host sees that value only.
    await engine.stores.tenants.update(tenantId, {
      'Microsoft 365': { authority_host: url, client_secret: 'editor-supplied-secret' },
    });
    await syncEnd(['licences']);
    expect(evil.received()).toContain(`client_secret=editor-supplied-secret`);
    expectNoneOf(evil.received(), forms(SIM.clientSecret));
    await restore();
  });

  it('Graph base URL: refused while the client secret is kept (also through the API)', async () => {
    const evil = await capture('https', 'graph');
    const url = `https://${evil.host}`;
    const token = (
      await engine.stores.tokens.create({ name: 'secrets-test', role: 'admin', scope: '*' }, 'test')
    ).token;
    const api = buildApi({ stores: engine.stores, authentication: { tokens: engine.stores.tokens } });
    const base = await api.listen({ port: 0, host: '127.0.0.1' });
    try {
      const response = await fetch(`${base}/tenants/${tenantId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ 'Microsoft 365': { graph_base_url: url, client_secret: MASK } }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { problems: { field: string }[] };
      expect(body.problems.map((p) => p.field)).toEqual(['Microsoft 365.client_secret']);
    } finally {
      await api.close();
    }
    expect((await syncEnd(['licences'])).state).toBe('completed');
    expect(evil.connections()).toBe(0);

    // Given again, the change is accepted and the sync runs (it signs in at the authority for the new
    // Graph audience); the client secret still goes to the authority only.
    const tokensBefore = engine.sim.graph.requests.filter((r) => r.kind === 'token').length;
    await engine.stores.tenants.update(tenantId, {
      'Microsoft 365': { graph_base_url: url, client_secret: SIM.clientSecret },
    });
    await syncEnd(['licences']);
    expect(engine.sim.graph.requests.filter((r) => r.kind === 'token').length).toBeGreaterThan(tokensBefore);
    expectNoneOf(evil.received(), forms(SIM.clientSecret));
    await restore();
  });

  it('PowerShell host: refused while the proxy and Teams passwords are kept; given again, only the new ones reach it', async () => {
    const evil = await capture('http', 'powershell');
    const refused = engine.stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': { hostName: evil.host, proxyPassword: MASK },
    });
    await expect(refused).rejects.toThrow(/Microsoft Teams Powershell.proxyPassword: must be given again/);
    await expect(refused).rejects.toThrow(/Microsoft Teams.tenantPassword: must be given again/);
    // Adding a host to the list is a change of destination too.
    await expect(
      engine.stores.tenants.update(tenantId, {
        'Microsoft Teams Powershell': {
          hostName: `${engine.sim.tenantInput['Microsoft Teams Powershell']!.hostName},${evil.host}`,
        },
      }),
    ).rejects.toThrow(/proxyPassword: must be given again/);
    expect((await syncEnd(['dial_plans'])).state).toBe('completed');
    expect(evil.connections()).toBe(0);

    await engine.stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': { hostName: evil.host, proxyPassword: 'editor-proxy-pw' },
      'Microsoft Teams': { tenantPassword: 'editor-teams-pw' },
    });
    await syncEnd(['dial_plans']);
    expect(evil.received()).toContain(Buffer.from(`${SIM.proxyUsername}:editor-proxy-pw`).toString('base64'));
    expectNoneOf(evil.received(), [
      ...forms(SIM.proxyPassword, SIM.proxyUsername),
      ...forms(SIM.teamsPassword),
      ...forms(SIM.clientSecret),
    ]);
    await restore();
  });

  it('outbound proxy: refused while the proxy password is kept; given again, only the new one reaches the new proxy', async () => {
    const first = await capture('http', 'http_proxy');
    const second = await capture('http', 'http_proxy');
    await engine.stores.tenants.update(tenantId, {
      'Microsoft 365': {
        https_proxy: `http://${first.host}/`,
        proxy_username: 'graph-proxy-user',
        proxy_password: 'first-proxy-pw',
      },
    });
    await expect(
      engine.stores.tenants.update(tenantId, { 'Microsoft 365': { https_proxy: `http://${second.host}/` } }),
    ).rejects.toThrow(/Microsoft 365.proxy_password: must be given again.*https_proxy/);
    // The proxy's credentials are fields of their own: a URL carrying them is refused.
    await expect(
      engine.stores.tenants.update(tenantId, {
        'Microsoft 365': { https_proxy: `http://u:${MASK}@${second.host}/` },
      }),
    ).rejects.toThrow(/https_proxy: must not hold a user or password/);
    await syncEnd(['licences']);
    expect(first.received()).toContain(Buffer.from('graph-proxy-user:first-proxy-pw').toString('base64'));
    expect(second.connections()).toBe(0);

    await engine.stores.tenants.update(tenantId, {
      'Microsoft 365': { https_proxy: `http://${second.host}/`, proxy_password: 'second-proxy-pw' },
    });
    await syncEnd(['licences']);
    expect(second.received()).toContain(Buffer.from('graph-proxy-user:second-proxy-pw').toString('base64'));
    expectNoneOf(second.received(), [
      ...forms('first-proxy-pw', 'graph-proxy-user'),
      ...forms(SIM.clientSecret),
    ]);
    await restore();
  });
});

describe('destinations that are not allowed', () => {
  it('are refused when saved, naming the field, and nothing connects', async () => {
    const listener = await capture('http');
    const secure = await capture('https');
    const attempt = engine.stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': { hostName: listener.host, proxyPassword: 'x', proxyUsername: 'y' },
      'Microsoft Teams': { tenantPassword: 'z' },
      'Microsoft 365': {
        authority_host: `https://${secure.host}`,
        client_secret: 'w',
        http_proxy: `http://${listener.host}/`,
      },
    });
    await expect(attempt).rejects.toThrow(ValidationError);
    const fields = await attempt.catch((e: ValidationError) => e.problems.map((p) => p.field));
    expect(fields).toEqual([
      'Microsoft 365.authority_host',
      'Microsoft 365.http_proxy',
      'Microsoft Teams Powershell.hostName',
    ]);
    await expect(attempt).rejects.toThrow(/is not an allowed destination.*destinations allow/);
    expect(listener.connections() + secure.connections()).toBe(0);
  });

  it('are refused right before connecting when the entry was removed, or the value stored before the rule', async () => {
    const listener = await capture('http', 'powershell');
    await engine.stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': { hostName: listener.host, proxyPassword: SIM.proxyPassword },
      'Microsoft Teams': { tenantPassword: SIM.teamsPassword },
    });
    const removed = await cli(engine.cliEnv('admin'), 'destinations', 'remove', 'powershell', listener.host);
    expect(removed).toMatchObject({ code: 0 });
    const end = await syncEnd(['dial_plans']);
    expect(end.state).toBe('failed');
    expect(end.reason).toMatch(
      /Microsoft Teams Powershell.hostName: 127\.0\.0\.1:\d+ is not an allowed destination/,
    );
    const tested = await cli(
      { ...engine.cliEnv('admin'), M365SYNC_WINRM_SCHEME: 'http' },
      'test-connection',
      tenantId,
    );
    expect(tested.code).toBe(1);
    expect(tested.err).toContain('not an allowed destination');
    expect(listener.connections()).toBe(0);
    await restore();

    // Written straight into MongoDB, as a tenant stored before the rule would be.
    const secure = await capture('https');
    await engine.mongo.db
      .collection(TENANTS_COLLECTION)
      .updateOne(
        { _id: new ObjectId(tenantId) },
        { $set: { 'Microsoft 365.authority_host': `https://${secure.host}` } },
      );
    const stale = await syncEnd(['licences']);
    expect(stale.state).toBe('failed');
    expect(stale.reason).toMatch(/Microsoft 365.authority_host: .* is not an allowed destination/);
    expect(secure.connections()).toBe(0);
    await engine.mongo.db
      .collection(TENANTS_COLLECTION)
      .updateOne({ _id: new ObjectId(tenantId) }, { $unset: { 'Microsoft 365.authority_host': '' } });
    await restore();
  });
});

describe('names that resolve into the provider network', () => {
  it('an allowed name resolving to a loopback address that is not allowed is refused right before connecting', async () => {
    const listener = await capture('http');
    await engine.stores.destinations.allow('powershell', `localhost:${listener.port}`);
    await engine.stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': {
        hostName: `localhost:${listener.port}`,
        proxyPassword: SIM.proxyPassword,
      },
      'Microsoft Teams': { tenantPassword: SIM.teamsPassword },
    });
    const lastRun = async () =>
      JSON.stringify(
        await engine.stores.db
          .collection('sync_runs')
          .find({ tenantId })
          .sort({ _id: -1 })
          .limit(1)
          .toArray(),
      );
    await syncEnd(['dial_plans']);
    expect(await lastRun()).toMatch(
      /localhost resolves to [^"]*127\.0\.0\.1[^"]*: a private, loopback or link-local address that is not allowed/,
    );
    expect(listener.connections()).toBe(0);

    // Once the address is allowed too, the same sync connects (the listener answers 401).
    await engine.stores.destinations.allow('powershell', '127.0.0.0/8');
    await syncEnd(['dial_plans']);
    expect(listener.connections()).toBeGreaterThan(0);
    await engine.stores.destinations.remove('powershell', '127.0.0.0/8');
    await restore();
  });
});

describe('certificates belong to a place in the hierarchy', () => {
  const certificateSignIn = (name: string, thumbprint: string): TenantInput => ({
    'Microsoft 365': {
      client_secret: null,
      certificate_bkey: name,
      graph_api_certificate_thumbprint: thumbprint,
    },
  });

  it("a tenant cannot name another customer's certificate, and learns nothing of it", async () => {
    await engine.stores.certificates.add({
      name: 'fabrikam-graph',
      hierarchy: 'demo.provider.fabrikam',
      ...otherCert,
    });
    const attempt = engine.stores.tenants.update(
      tenantId,
      certificateSignIn('fabrikam-graph', otherCert.thumbprint),
    );
    await expect(attempt).rejects.toThrow(
      /certificate_bkey: names no stored certificate available at demo.provider.contoso/,
    );
    const message = await attempt.catch((e: Error) => e.message);
    expect(message).not.toContain(otherCert.thumbprint);
    expect(message).not.toContain('fabrikam'.toUpperCase());

    // A wrong thumbprint for a certificate in scope does not show the right one either.
    await engine.stores.certificates.add({ name: 'provider-graph', hierarchy: 'demo.provider', ...appCert });
    const wrong = engine.stores.tenants.update(
      tenantId,
      certificateSignIn('provider-graph', otherCert.thumbprint),
    );
    await expect(wrong).rejects.toThrow(/graph_api_certificate_thumbprint: does not match/);
    expect(await wrong.catch((e: Error) => e.message)).not.toContain(appCert.thumbprint);
  });

  it('a certificate stored above the tenant serves it; moved out of its scope, the sync refuses it', async () => {
    await engine.stores.tenants.update(tenantId, certificateSignIn('provider-graph', appCert.thumbprint));
    expect((await syncEnd(['licences'])).state).toBe('completed');

    await engine.mongo.db
      .collection(CERTIFICATES_COLLECTION)
      .updateOne({ name: 'provider-graph' }, { $set: { hierarchy: 'demo.provider.fabrikam' } });
    await syncEnd(['licences']);
    const runs = await engine.stores.db
      .collection('sync_runs')
      .find({ tenantId })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    const error = JSON.stringify(runs[0]);
    expect(error).toMatch(
      /No stored certificate named \\"provider-graph\\" is available at demo.provider.contoso/,
    );
    expect(error).not.toContain(appCert.thumbprint);
    await engine.mongo.db
      .collection(CERTIFICATES_COLLECTION)
      .updateOne({ name: 'provider-graph' }, { $set: { hierarchy: 'demo.provider' } });
    await restore();
  });
});
