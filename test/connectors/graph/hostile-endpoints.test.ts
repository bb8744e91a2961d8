/**
 * A Graph base URL or authority that answers like no Microsoft endpoint does (a proxy's error page, a
 * foreign host, a server that never stops sending): whatever it says never reaches an error message;
 * only its status and, from Graph, a documented error code do; a 2xx that is not a Graph collection is
 * not handed on as objects; bodies are capped and every request has an overall deadline. Checked
 * against a real HTTPS server on loopback (with the simulator's certificate) that is both the
 * authority and the Graph host.
 */
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGraphConnector, type GraphConnectorOptions } from '../../../connectors/graph/connector.js';
import { SyncError } from '../../../domain/errors.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { FAST, pullAll, startTenant, tenantFor } from './support/simulated-graph.js';

/** Text a hostile endpoint writes: it must never come back in an error message. */
const MARKER = 'Internal-Admin-Panel-7f3a';

type Mode = (res: ServerResponse, path: string) => void;

describe('hostile Graph and sign-in endpoints', { timeout: 30_000 }, () => {
  let sim: GraphSimulator;
  let server: Server;
  let base: string;
  let mode: Mode;
  let token: Mode;
  let bodyBytesSent = 0;
  let requests: string[] = [];

  beforeAll(async () => {
    sim = await startTenant({ users: 5 });
    server = createServer({ key: sim.tls.key, cert: sim.tls.cert }, (req, res) => {
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      req.resume();
      if (path.endsWith('/openid-configuration')) return openid(res);
      if (path.endsWith('/oauth2/v2.0/token')) return token(res, path);
      requests.push(path);
      mode(res, path);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await sim.close();
  });
  beforeEach(() => {
    bodyBytesSent = 0;
    requests = [];
    token = json(200, {
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: 'opaque',
    });
  });

  function openid(res: ServerResponse) {
    const root = `${base}/${sim.tenantId}`;
    json(200, {
      token_endpoint: `${root}/oauth2/v2.0/token`,
      issuer: `${root}/v2.0`,
      authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${root}/oauth2/v2.0/logout`,
      jwks_uri: `${root}/discovery/v2.0/keys`,
      response_types_supported: ['code'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
    })(res, '');
  }

  function json(status: number, body: unknown, type = 'application/json'): Mode {
    return (res) => res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body));
  }
  /** Writes `total` bytes of a JSON page (no content-length), as fast as the client reads. */
  const endless = (total: number): Mode => {
    return (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"@odata.context":"x","value":["');
      const chunk = 'a'.repeat(64 * 1024);
      const pump = () => {
        while (bodyBytesSent < total) {
          bodyBytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('"]}');
      };
      res.on('close', () => (bodyBytesSent = Math.max(bodyBytesSent, 0)));
      pump();
    };
  };
  /** Headers at once, then one byte every 50 ms, forever (each chunk well within bodyTimeout). */
  const trickle: Mode = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(timer));
  };

  function graphAt(options: Partial<GraphConnectorOptions> = {}) {
    return createGraphConnector({
      tenant: tenantFor(sim, { graph_base_url: base, authority_host: base }),
      ca: sim.ca,
      limiter: FAST,
      retry: { maxAttempts: 1 },
      ...options,
    });
  }

  async function failure(options: Partial<GraphConnectorOptions> = {}): Promise<SyncError> {
    const graph = graphAt(options);
    try {
      const error = await pullAll(graph.pages('users')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SyncError);
      expect((error as Error).message).not.toContain(MARKER);
      expect(JSON.stringify(error)).not.toContain(MARKER);
      return error as SyncError;
    } finally {
      await graph.close();
    }
  }

  it("says a proxy's error page failed with its status, never what the page said", async () => {
    mode = (res) => res.writeHead(502, { 'content-type': 'text/html' }).end(`<html>${MARKER}</html>`);
    const error = await failure();
    expect(error.code).toBe('GRAPH_REQUEST');
    expect(error.message).toMatch(/^Graph \/users answered 502 \(HTTP 502\)/);
  });

  it("keeps Graph's documented error code and drops its message and any code of another shape", async () => {
    mode = json(403, { error: { code: 'Authorization_RequestDenied', message: MARKER } });
    expect((await failure()).message).toMatch(/403 for \/users \(HTTP 403, Authorization_RequestDenied\)/);
    mode = json(400, { error: { code: `Bad code ${MARKER}`, message: MARKER } });
    expect((await failure()).message).toMatch(/answered 400 \(HTTP 400\);/);
    mode = json(400, { error: { code: 'x'.repeat(65) } });
    expect((await failure()).message).toMatch(/\(HTTP 400\)/);
  });

  it('stores nothing from a 2xx that is not a Graph collection', async () => {
    mode = json(200, { value: [{ id: MARKER }] }); // no @odata.context
    expect((await failure()).message).toMatch(/not a Graph collection/);
    mode = json(200, { '@odata.context': 'x', value: [MARKER] }); // items that are not objects
    expect((await failure()).message).toMatch(/not a Graph collection/);
    mode = json(200, { '@odata.context': 'x', value: [{ id: MARKER }] }, 'text/html');
    expect((await failure()).message).toMatch(/without a JSON body/);
  });

  it('stops reading a body over the cap, counted or declared, and does not retry it', async () => {
    mode = endless(16 * 1024 * 1024);
    const error = await failure({ maxResponseBytes: 1024 * 1024, retry: { maxAttempts: 3 } });
    expect(error.message).toMatch(/larger than 1 MiB; it was not read further/);
    expect(error.retryable).toBe(false);
    expect(requests).toHaveLength(1);
    expect(bodyBytesSent).toBeLessThan(16 * 1024 * 1024);

    mode = (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': String(700 * 1024 * 1024) })
        .write('{');
    expect((await failure({ maxResponseBytes: 1024 * 1024 })).message).toMatch(/larger than 1 MiB/);
  });

  it('ends a request that trickles forever at its overall deadline', async () => {
    mode = trickle;
    const error = await failure({ requestDeadlineMs: 1000 });
    expect(error.code).toBe('TRANSIENT');
    expect(error.message).toMatch(/no complete answer within 1 s/);
  });

  it("test-connection reports each check by status and code only, and escapes the organisation's name", async () => {
    mode = (res, path) => {
      if (path === '/v1.0/organization') {
        return json(200, {
          '@odata.context': 'x',
          value: [{ id: 'org', displayName: `Contoso\u001b[2J${'x'.repeat(400)}` }],
        })(res, path);
      }
      if (path === '/v1.0/users') return res.writeHead(502, { 'content-type': 'text/html' }).end(MARKER);
      return json(403, { error: { code: 'Authorization_RequestDenied', message: MARKER } })(res, path);
    };
    const graph = graphAt();
    try {
      const result = await graph.testConnection();
      expect(JSON.stringify(result)).not.toContain(MARKER);
      expect(result.organization?.displayName).toMatch(/^Contoso\\x1B\[2Jx+$/);
      expect(result.organization?.displayName).toHaveLength(256);
      expect(result.checks.map((c) => [c.endpoint, c.ok])).toEqual([
        ['/organization', true],
        ['/users', false],
        ['/groups', false],
        ['/subscribedSkus', false],
      ]);
      expect(result.checks[1]!.message).toMatch(/answered 502 \(HTTP 502\)/);
      expect(result.checks[2]!.message).toMatch(/\(HTTP 403, Authorization_RequestDenied\)/);
    } finally {
      await graph.close();
    }
  });

  describe('as the sign-in endpoint', () => {
    const signIn = async (answer: Mode, options: Partial<GraphConnectorOptions> = {}) => {
      token = answer;
      return failure(options);
    };

    it('keeps only the AADSTS code and OAuth error of a refusal', async () => {
      const error = await signIn(
        json(401, {
          error: 'invalid_client',
          error_description: `AADSTS7000215: Invalid client secret provided. ${MARKER}`,
          error_codes: [7000215],
        }),
      );
      expect(error.code).toBe('AUTHENTICATION');
      expect(error.message).toMatch(/AADSTS7000215/);
    });

    it('caps the token response and ends a trickling one at the deadline', async () => {
      const big = await signIn(endless(8 * 1024 * 1024));
      expect(big.message).toMatch(/larger than 1 MiB/);
      const slow = await signIn(trickle, { requestDeadlineMs: 1000 });
      expect(slow.message).toMatch(/no complete answer within 1 s/);
    });
  });
});
