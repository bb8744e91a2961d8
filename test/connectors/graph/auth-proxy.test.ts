import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphConnector } from '../../../connectors/graph/index.js';
import { SyncError } from '../../../domain/errors.js';
import { generateAppCertificate, type AppCertificate } from '../../../simulators/graph/certificates.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  FAST,
  pullAll,
  startConnectProxy,
  startTenant,
  tenantFor,
} from './support/simulated-graph.js';

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => lines.join('') };
}

describe('sign-in, outbound proxies and secrecy', () => {
  let sim: GraphSimulator;
  let appCert: AppCertificate;
  let otherCert: AppCertificate;
  beforeAll(async () => {
    [appCert, otherCert] = await Promise.all([
      generateAppCertificate(),
      generateAppCertificate('not registered'),
    ]);
    sim = await startTenant(
      { users: 120 },
      {
        apps: [
          { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
          { clientId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', certificates: [appCert.certificatePem] },
        ],
      },
    );
  });
  afterAll(async () => {
    await sim.close();
  });

  const certTenant = (cert: AppCertificate, m365: Record<string, unknown> = {}) =>
    tenantFor(sim, {
      client_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      client_secret: null,
      graph_api_certificate_thumbprint: cert.thumbprint,
      certificate_bkey: 'graph-app-cert',
      ...m365,
    });

  it('signs in with a client secret, contacting only the configured authority (no instance discovery)', async () => {
    sim.clearLog();
    const urls: string[] = [];
    const connector = createGraphConnector({
      tenant: tenantFor(sim),
      ca: sim.ca,
      limiter: FAST,
      onIdentityRequest: (u) => urls.push(u),
    });
    try {
      const { items } = await pullAll(connector.pages('users'));
      expect(items).toHaveLength(120);
      expect(urls.length).toBeGreaterThanOrEqual(2); // openid-configuration, token
      expect(urls.every((u) => u.startsWith(`${sim.url}/`))).toBe(true);
      expect(sim.requests.some((r) => r.kind === 'discovery')).toBe(false);
      expect(sim.requests.filter((r) => r.kind === 'openid')).toHaveLength(1);
      expect(sim.requests.filter((r) => r.kind === 'token')).toEqual([
        expect.objectContaining({ status: 200, clientId: CLIENT_ID }),
      ]);
      const check = await connector.testConnection();
      expect(check).toMatchObject({ ok: true, organization: { id: sim.tenantId } });
    } finally {
      await connector.close();
    }
  });

  it('signs in with a certificate (client assertion checked against the registered certificate)', async () => {
    sim.clearLog();
    const connector = createGraphConnector({
      tenant: certTenant(appCert),
      certificate: { certificatePem: appCert.certificatePem, privateKeyPem: appCert.privateKeyPem },
      ca: sim.ca,
      limiter: FAST,
    });
    try {
      const { items } = await pullAll(connector.pages('licences'));
      expect(items.length).toBe(sim.dataset().skus.length);
      expect(sim.requests.find((r) => r.kind === 'token')).toMatchObject({ status: 200 });
    } finally {
      await connector.close();
    }
  });

  it('refuses a certificate whose thumbprint is not the configured one, and a missing certificate', () => {
    const wrong = () =>
      createGraphConnector({
        tenant: certTenant(appCert),
        certificate: { certificatePem: otherCert.certificatePem, privateKeyPem: otherCert.privateKeyPem },
        ca: sim.ca,
      });
    expect(wrong).toThrow(/thumbprint/);
    expect(() => createGraphConnector({ tenant: certTenant(appCert), ca: sim.ca })).toThrow(SyncError);
  });

  it('never puts the secret, the private key or the proxy password in a log line or an error', async () => {
    const { logger, text } = memoryLogger();
    const errors: string[] = [];
    const record = (e: unknown) => {
      expect(e).toBeInstanceOf(SyncError);
      errors.push(`${(e as Error).message} ${JSON.stringify(e)} ${String((e as Error).cause ?? '')}`);
    };
    // 1. a wrong client secret
    const wrongSecret = 'Wr0ng-S3cret-Value~xyz';
    let c = createGraphConnector({
      tenant: tenantFor(sim, { client_secret: wrongSecret }),
      ca: sim.ca,
      logger,
      limiter: FAST,
    });
    await pullAll(c.pages('users')).then(() => expect.unreachable(), record);
    await c.close();
    expect(errors[0]).toMatch(/client secret/);
    // 2. a certificate the app does not know (thumbprint configured to match it)
    c = createGraphConnector({
      tenant: certTenant(otherCert),
      certificate: { certificatePem: otherCert.certificatePem, privateKeyPem: otherCert.privateKeyPem },
      ca: sim.ca,
      logger,
      limiter: FAST,
    });
    await pullAll(c.pages('users')).then(() => expect.unreachable(), record);
    await c.close();
    // 3. a proxy that refuses our credentials, and throttling warnings on the way
    const proxy = await startConnectProxy({ user: 'proxy-user', password: 'Pr0xy-Pa55word' });
    try {
      c = createGraphConnector({
        tenant: tenantFor(sim, {
          https_proxy: proxy.url(),
          proxy_username: 'proxy-user',
          proxy_password: 'Wrong-Pr0xy-Pass',
        }),
        ca: sim.ca,
        logger,
        limiter: FAST,
        retry: { maxAttempts: 2, baseDelayMs: 10 },
      });
      await pullAll(c.pages('users')).then(() => expect.unreachable(), record);
      await c.close();
      expect(proxy.refused).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
    sim.setFaults([{ kind: 'throttle', retryAfter: { seconds: 0 } }]);
    c = createGraphConnector({ tenant: tenantFor(sim), ca: sim.ca, logger, limiter: FAST });
    await pullAll(c.pages('users'));
    await c.close();

    const all = `${text()}\n${errors.join('\n')}`;
    expect(text()).toContain('Graph asked us to slow down'); // the logs were captured
    for (const secret of [CLIENT_SECRET, wrongSecret, 'Wrong-Pr0xy-Pass', 'Pr0xy-Pa55word', 'PRIVATE KEY']) {
      expect(all).not.toContain(secret);
    }
    for (const line of otherCert.privateKeyPem.split('\n').filter((l) => l.length > 20)) {
      expect(all).not.toContain(line);
    }
  });

  it.each([
    ['http_proxy', undefined],
    ['https_proxy', { user: 'proxy-user', password: 'p@ss:w0rd/with%odd' }],
  ] as const)('carries every token and Graph request through %s', async (field, credentials) => {
    const proxy = await startConnectProxy(credentials);
    sim.clearLog();
    const connector = createGraphConnector({
      tenant: tenantFor(sim, {
        [field]: proxy.url(),
        ...(credentials ? { proxy_username: credentials.user, proxy_password: credentials.password } : {}),
        msol_user_api_page_size: 10,
      }),
      ca: sim.ca,
      limiter: FAST,
    });
    try {
      const { items } = await pullAll(connector.pages('users'));
      expect(items).toHaveLength(120);
      expect(proxy.refused).toBe(0);
      expect(proxy.tunnels.length).toBeGreaterThan(0);
      expect(proxy.tunnels.every((t) => t === new URL(sim.url).host)).toBe(true);
      expect(sim.requests.filter((r) => r.kind === 'token')).toHaveLength(1);
      expect(sim.requests.filter((r) => r.kind === 'graph')).toHaveLength(12);
      // Every request the tenant saw came from one of the proxy's upstream connections.
      const notProxied = sim.requests.filter((r) => !proxy.upstreamPorts.has(r.remotePort));
      expect(notProxied).toEqual([]);
    } finally {
      await connector.close();
      await proxy.close();
    }
  });
});
