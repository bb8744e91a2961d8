/**
 * A simulated Microsoft Graph tenant over HTTPS: the sign-in endpoints MSAL uses (OpenID configuration,
 * client-credentials token with secret or certificate assertion) and the Graph v1.0 collections the
 * connector reads (/users, /groups, /subscribedSkus, /organization), paged as Graph pages them:
 * `$top` default 100 and at most 999, opaque `$skiptoken` next links, `$select`, bearer tokens checked,
 * application permissions enforced, and faults on demand. Every request is logged with its arrival
 * time so tests check waits and concurrency from the server's side. `/users/delta` and `/groups/delta`
 * track changes between data sets (simulators/graph/delta.ts).
 */
import { compileUserFilter } from './user-filter.js';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Dataset } from '../dataset.js';
import { generateServerTls, type ServerTls } from './certificates.js';
import { COLLECTIONS, TEAM_FILTER, project, type Collection } from './collections.js';
import { DeltaService, type DeltaOptions } from './delta.js';
import type { DeltaKind } from './delta-history.js';
import { FaultPlan, type Fault, type FaultInput } from './faults.js';
import { TokenError, TokenService, type SimulatedApp } from './tokens.js';

export type { SimulatedApp } from './tokens.js';
export type { FaultInput } from './faults.js';
export type { DeltaOptions } from './delta.js';

export interface GraphSimulatorOptions {
  dataset: Dataset;
  /** App registrations that may sign in. */
  apps: SimulatedApp[];
  faults?: FaultInput[];
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Extra time before each Graph response, in milliseconds. */
  latencyMs?: number;
  /** Access token lifetime (default 3600 s, as Entra ID). */
  tokenLifetimeSeconds?: number;
  /** Next links older than this are refused with Directory_ExpiredPageToken (default: never). */
  pageTokenTtlMs?: number;
  /** Reuse certificates (the CLI writes them once); default: generated for this run. */
  tls?: ServerTls;
  /** How many request records to keep (default 100,000; the oldest are dropped). */
  logLimit?: number;
  /** Delta query: page size, token lifetime, duplicates, late and replayed changes (delta.ts). */
  delta?: DeltaOptions;
}

const optionsSchema = z.object({
  apps: z
    .array(
      z.object({
        clientId: z.string().min(1),
        clientSecret: z.string().optional(),
        certificates: z.array(z.string()).optional(),
        roles: z.array(z.string()).optional(),
      }),
    )
    .min(1, 'at least one app registration is needed to sign in'),
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().default('127.0.0.1'),
  latencyMs: z.number().nonnegative().default(0),
  tokenLifetimeSeconds: z.number().int().positive().default(3600),
  pageTokenTtlMs: z.number().positive().optional(),
  logLimit: z.number().int().positive().default(100_000),
});

export type RequestKind = 'openid' | 'discovery' | 'token' | 'graph' | 'unknown';

export interface RequestRecord {
  seq: number;
  /** Arrival time, milliseconds since the epoch with sub-millisecond precision. */
  at: number;
  method: string;
  /** Path without the query, e.g. /v1.0/users. */
  path: string;
  /** The query string as received (with its leading `?`, or empty). */
  search: string;
  kind: RequestKind;
  /** 0 when the connection was dropped on purpose. */
  status: number;
  /** The Retry-After header sent, if any ('' when sent empty). */
  retryAfter?: string;
  fault?: Fault['kind'];
  hasSkiptoken: boolean;
  /** The `$top` asked for, if any. */
  top?: string;
  /** The client id of a token request or of the bearer token. */
  clientId?: string;
  /** Graph requests in progress when this one arrived (this one included). */
  inFlight: number;
  /** The client's port: tests match it against a proxy's upstream sockets. */
  remotePort: number;
  /** Graph requests answered: the response body's bytes (half of it for `resetMidBody`). */
  bytes?: number;
  /** Graph requests answered: when the response was handed to the socket (as `at`), after the latency. */
  sentAt?: number;
}

export interface GraphSimulator {
  /** Graph base URL (no version), e.g. https://127.0.0.1:8443 */
  url: string;
  /** Authority host for sign-in; the same server. */
  authorityHost: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  tls: ServerTls;
  tenantId: string;
  dataset(): Dataset;
  setDataset(ds: Dataset): void;
  setFaults(faults: FaultInput[]): void;
  addFault(fault: FaultInput): void;
  pendingFaults(): number;
  setLatency(ms: number): void;
  /** Every token issued so far expires now. */
  expireTokens(): void;
  /** Changes the delta options (page size, token lifetime, quirks) for the rounds that follow. */
  setDeltaOptions(options: DeltaOptions): void;
  /** Every delta and page token issued so far is expired: its next use gets 400 syncStateNotFound. */
  expireDeltaTokens(): void;
  /**
   * The next `times` delta requests (of `kind`, or either) that carry a token get 410 Gone with a
   * Location to start a new first round; the kind's earlier tokens are refused from then on.
   */
  requireDeltaResync(kind?: DeltaKind, times?: number): void;
  /** Requests received, oldest first. */
  requests: RequestRecord[];
  maxGraphInFlight(): number;
  clearLog(): void;
  close(): Promise<void>;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  writeJson(res, status, body, headers);
}

/** Answers JSON; returns the body's length in bytes. */
function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
): number {
  const text = JSON.stringify(body);
  const bytes = Buffer.byteLength(text);
  res.writeHead(status, {
    'content-type':
      'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'content-length': bytes,
    'request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
  return bytes;
}

function graphError(code: string, message: string) {
  return {
    error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID() } },
  };
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startGraphSimulator(options: GraphSimulatorOptions): Promise<GraphSimulator> {
  const opts = optionsSchema.parse(options);
  let dataset = options.dataset;
  // Listening elsewhere than loopback (a test's network namespaces reach it on a bridge address): the
  // certificate names that address too, so TLS is checked as ever.
  const listenOn =
    options.host && !['127.0.0.1', '::1', 'localhost'].includes(options.host) ? [options.host] : [];
  const tls = options.tls ?? (await generateServerTls(listenOn));
  const tokens = new TokenService(opts.apps, opts.tokenLifetimeSeconds);
  const faults = new FaultPlan();
  faults.set(options.faults ?? []);
  let latencyMs = opts.latencyMs;
  const skiptokenKey = randomBytes(32);
  const delta = new DeltaService(() => dataset, options.delta);
  const requests: RequestRecord[] = [];
  let seq = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<Socket>();
  let base = '';

  const record = (r: Omit<RequestRecord, 'seq'>) => {
    requests.push({ seq: ++seq, ...r });
    if (requests.length > opts.logLimit) requests.splice(0, requests.length - opts.logLimit);
  };

  const signSkiptoken = (state: string) => {
    const mac = createHmac('sha256', skiptokenKey).update(state).digest('base64url').slice(0, 22);
    return Buffer.from(`${state}|${mac}`).toString('base64url');
  };
  const readSkiptoken = (token: string): { scope: string; offset: number; issued: number } | undefined => {
    const text = Buffer.from(token, 'base64url').toString();
    const cut = text.lastIndexOf('|');
    const state = text.slice(0, cut);
    const expected = createHmac('sha256', skiptokenKey).update(state).digest('base64url').slice(0, 22);
    if (cut < 0 || text.slice(cut + 1) !== expected) return undefined;
    const [scope, offset, issued] = state.split('~');
    return { scope: scope!, offset: Number(offset), issued: Number(issued) };
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = now();
    const url = new URL(req.url ?? '/', base);
    const path = url.pathname;
    const params = url.searchParams;
    const common = {
      at,
      method: req.method ?? 'GET',
      path,
      search: url.search,
      hasSkiptoken: params.has('$skiptoken'),
      remotePort: req.socket.remotePort ?? 0,
      ...(params.has('$top') ? { top: params.get('$top')! } : {}),
    };

    // --- sign-in ---
    const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    if (openid && req.method === 'GET') {
      const tenant = openid[1]!;
      if (tenant !== dataset.tenantId) {
        record({ ...common, kind: 'openid', status: 400, inFlight: 0 });
        return sendJson(res, 400, {
          error: 'invalid_tenant',
          error_description: `AADSTS90002: Tenant '${tenant}' not found.`,
        });
      }
      record({ ...common, kind: 'openid', status: 200, inFlight: 0 });
      const root = `${base}/${tenant}`;
      return sendJson(res, 200, {
        token_endpoint: `${root}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${root}/v2.0`,
        authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${root}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${root}/oauth2/v2.0/logout`,
        tenant_region_scope: 'EU',
        cloud_instance_name: new URL(base).host,
        cloud_graph_host_name: new URL(base).host,
        msgraph_host: new URL(base).host,
      });
    }
    if (path === '/common/discovery/instance') {
      // MSAL asks here unless instance discovery is disabled; the connector disables it, tests check.
      record({ ...common, kind: 'discovery', status: 200, inFlight: 0 });
      return sendJson(res, 200, {
        tenant_discovery_endpoint: `${base}/${dataset.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [],
      });
    }
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (tokenPath && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const clientId = form.get('client_id') ?? undefined;
      const tenant = tokenPath[1]!;
      try {
        if (tenant !== dataset.tenantId) {
          throw new TokenError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
        }
        const body = tokens.issue(form, tenant, `${base}${path}`, base);
        record({ ...common, kind: 'token', status: 200, inFlight: 0, ...(clientId ? { clientId } : {}) });
        return sendJson(res, 200, body, { 'cache-control': 'no-store, no-cache' });
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        record({
          ...common,
          kind: 'token',
          status: error.status,
          inFlight: 0,
          ...(clientId ? { clientId } : {}),
        });
        return sendJson(res, error.status, {
          error: error.error,
          error_description: error.message,
          error_codes: [error.aadsts],
          timestamp: new Date().toISOString(),
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        });
      }
    }

    // --- Graph ---
    // A function call on a collection: /users/delta, also spelt delta() or microsoft.graph.delta.
    const graph = /^\/v1\.0\/([A-Za-z]+)(\/(?:microsoft\.graph\.)?delta(?:\(\))?)?$/.exec(path);
    if (!graph || req.method !== 'GET') {
      record({ ...common, kind: 'unknown', status: 404, inFlight: 0 });
      return sendJson(res, 404, graphError('Request_ResourceNotFound', `Resource '${path}' does not exist.`));
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const running = inFlight;
    try {
      if (latencyMs > 0) await sleep(latencyMs);
      const name = graph[1]!;
      const isDelta = graph[2] !== undefined;
      const rec = { ...common, kind: 'graph' as const, inFlight: running };
      const auth = tokens.check(req.headers.authorization);
      // A `resetMidBody` fault: the page is answered 200 with its full length, half sent, then the
      // connection reset (a proxy or load balancer dying mid-response).
      let cutMidBody: Fault | undefined;
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}, fault?: Fault) => {
        if (cutMidBody && status === 200) {
          const text = Buffer.from(JSON.stringify(body), 'utf8');
          res.writeHead(200, {
            'content-type': 'application/json;charset=utf-8',
            'content-length': text.length,
          });
          const half = Math.floor(text.length / 2);
          res.write(text.subarray(0, half), () => res.socket?.destroy());
          record({
            ...rec,
            status: 0,
            ...('appid' in auth ? { clientId: auth.appid } : {}),
            fault: cutMidBody.kind,
            bytes: half,
            sentAt: now(),
          });
          return;
        }
        const bytes = writeJson(res, status, body, headers);
        record({
          ...rec,
          status,
          ...('appid' in auth ? { clientId: auth.appid } : {}),
          ...(headers['retry-after'] !== undefined ? { retryAfter: headers['retry-after'] } : {}),
          ...(fault ? { fault: fault.kind } : {}),
          bytes,
          sentAt: now(),
        });
      };
      if ('invalid' in auth) {
        return reply(401, graphError('InvalidAuthenticationToken', auth.invalid), {
          'www-authenticate': `Bearer realm="", authorization_uri="${base}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
        });
      }

      const fault = faults.take(isDelta ? `/${name}/delta` : `/${name}`, common.hasSkiptoken, req.url ?? '');
      if (fault) {
        const headers: Record<string, string> = {};
        if (typeof fault.retryAfter === 'object') {
          headers['retry-after'] =
            'seconds' in fault.retryAfter
              ? String(fault.retryAfter.seconds)
              : new Date(
                  Math.ceil(Date.now() / 1000) * 1000 + fault.retryAfter.dateInSeconds * 1000,
                ).toUTCString();
        } else if (fault.retryAfter === 'empty') headers['retry-after'] = '';
        switch (fault.kind) {
          case 'throttle':
            return reply(
              429,
              graphError('TooManyRequests', 'Too many requests. Please try again later.'),
              { ...headers, 'x-ms-throttle-scope': 'Tenant_Application/ReadOnly/simulated' },
              fault,
            );
          case 'unavailable':
            return reply(503, graphError('serviceNotAvailable', 'Service is unavailable.'), headers, fault);
          case 'gatewayTimeout':
            return reply(504, graphError('UnknownError', 'Gateway timeout.'), headers, fault);
          case 'drop':
            record({ ...rec, status: 0, clientId: auth.appid, fault: 'drop' });
            req.socket.destroy();
            return;
          case 'expiredPageToken':
            return reply(
              400,
              graphError(
                'Directory_ExpiredPageToken',
                'The specified page token value has expired and can no longer be included in your request.',
              ),
              {},
              fault,
            );
          case 'gone':
            return reply(
              410,
              graphError('syncStateNotFound', 'The sync state generation is not found.'),
              {},
              fault,
            );
          case 'expiredToken':
            tokens.expireAll();
            return reply(
              401,
              graphError('InvalidAuthenticationToken', 'Access token has expired or is not yet valid.'),
              {},
              fault,
            );
          case 'forbidden':
            return reply(
              403,
              graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
              {},
              fault,
            );
          case 'notFound':
            return reply(
              404,
              graphError('Request_ResourceNotFound', `Resource '${path}' does not exist.`),
              {},
              fault,
            );
          case 'emptyPage':
            break; // answered below, once the position is known
          case 'resetMidBody':
            cutMidBody = fault;
            break;
        }
      }

      const collection: Collection | undefined = COLLECTIONS[name];
      if (!collection || (isDelta && name !== 'users' && name !== 'groups')) {
        const segment = collection ? 'delta' : name;
        return reply(400, graphError('BadRequest', `Resource not found for the segment '${segment}'.`));
      }
      if (!collection.permissions.some((p) => auth.roles.includes(p))) {
        return reply(
          403,
          graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
        );
      }

      if (isDelta) {
        const answer = delta.handle({
          kind: name as DeltaKind,
          params,
          base,
          emptyPage: fault?.kind === 'emptyPage',
          ...(req.headers.prefer !== undefined ? { prefer: String(req.headers.prefer) } : {}),
        });
        const body = answer.error ? graphError(answer.error.code, answer.error.message) : answer.body;
        return reply(
          answer.status,
          body,
          answer.headers ?? {},
          fault?.kind === 'emptyPage' ? fault : undefined,
        );
      }

      let filter: string | undefined;
      if (params.has('$filter') && name === 'users') {
        // The users subset (simulators/graph/user-filter.ts); advanced ones need the header and $count.
        const compiled = compileUserFilter(params.get('$filter')!);
        if (!compiled.ok) {
          return reply(
            400,
            graphError('Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.'),
          );
        }
        const eventual = String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
        if (compiled.advanced && (!eventual || params.get('$count') !== 'true')) {
          return reply(
            400,
            graphError(
              'Request_UnsupportedQuery',
              "Unsupported query: this filter needs the 'ConsistencyLevel:eventual' header and $count=true. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
            ),
          );
        }
        filter = params.get('$filter')!;
      } else if (params.has('$filter')) {
        if (name !== 'groups' || !TEAM_FILTER.test(params.get('$filter')!.trim())) {
          return reply(
            400,
            graphError('Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.'),
          );
        }
        filter = 'teams';
      }
      let select: string[] | undefined;
      if (params.has('$select')) {
        select = params
          .get('$select')!
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = select.find((p) => !collection.properties.has(p));
        if (unknown) {
          return reply(
            400,
            graphError(
              'Request_BadRequest',
              `Could not find a property named '${unknown}' on type '${collection.type}'.`,
            ),
          );
        }
      } else select = collection.defaultSelect;

      let top = collection.size(dataset, filter);
      if (collection.paged) {
        top = 100;
        if (params.has('$top')) {
          const raw = params.get('$top')!;
          const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
          if (!(n >= 1 && n <= 999)) {
            return reply(
              400,
              graphError(
                'Request_UnsupportedQuery',
                `Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`,
              ),
            );
          }
          top = n;
        }
      } else if (params.has('$top')) {
        return reply(
          400,
          graphError('Request_UnsupportedQuery', `Query option '$top' is not supported on ${name}.`),
        );
      }

      const scope = `${name}:${filter ?? ''}`;
      let offset = 0;
      if (params.has('$skiptoken')) {
        const state = readSkiptoken(params.get('$skiptoken')!);
        if (!state || state.scope !== scope) {
          return reply(400, graphError('Request_BadRequest', 'Invalid paging token specified.'));
        }
        if (opts.pageTokenTtlMs !== undefined && Date.now() - state.issued > opts.pageTokenTtlMs) {
          return reply(
            400,
            graphError(
              'Directory_ExpiredPageToken',
              'The specified page token value has expired and can no longer be included in your request.',
            ),
          );
        }
        offset = state.offset;
      }

      const nextLinkFor = (nextOffset: number) => {
        const query = [...params.entries()]
          .filter(([k]) => k !== '$skiptoken')
          .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
        query.push(`$skiptoken=${signSkiptoken(`${scope}~${nextOffset}~${Date.now()}`)}`);
        return `${base}/v1.0/${name}?${query.join('&')}`;
      };

      const context = `${base}/v1.0/$metadata#${collection.contextName}${select && params.has('$select') ? `(${select.join(',')})` : ''}`;
      if (fault?.kind === 'emptyPage') {
        return reply(
          200,
          { '@odata.context': context, value: [], '@odata.nextLink': nextLinkFor(offset) },
          {},
          fault,
        );
      }
      const size = collection.size(dataset, filter);
      const value = collection.slice(dataset, filter, offset, top).map((o) => project(o, select));
      const body: Record<string, unknown> = { '@odata.context': context, value };
      if (params.get('$count') === 'true' && collection.paged) body['@odata.count'] = size;
      if (collection.paged && offset + top < size) body['@odata.nextLink'] = nextLinkFor(offset + top);
      return reply(200, body);
    } finally {
      inFlight--;
    }
  }

  const server: Server = createServer(
    { key: tls.key, cert: tls.cert, keepAliveTimeout: 30_000 },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 500, graphError('InternalServerError', (error as Error).message));
        }
      });
    },
  );
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  base = `https://${hostForUrl}:${address.port}`;

  return {
    url: base,
    authorityHost: base,
    ca: tls.ca,
    tls,
    get tenantId() {
      return dataset.tenantId;
    },
    dataset: () => dataset,
    setDataset(ds) {
      delta.datasetChanging(ds);
      dataset = ds;
    },
    setFaults: (list) => faults.set(list),
    addFault: (f) => faults.add(f),
    pendingFaults: () => faults.pending(),
    setLatency(ms) {
      latencyMs = ms;
    },
    expireTokens: () => tokens.expireAll(),
    setDeltaOptions: (o) => delta.setOptions(o),
    expireDeltaTokens: () => delta.expireTokens(),
    requireDeltaResync: (kind, times) => delta.requireResync(kind, times),
    requests,
    maxGraphInFlight: () => maxInFlight,
    clearLog() {
      requests.length = 0;
      maxInFlight = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
