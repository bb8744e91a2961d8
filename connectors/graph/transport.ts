/**
 * One HTTP transport (undici) for a tenant's Graph *and* token requests, so the outbound proxy and the
 * trusted CA apply to both the same way.
 *
 * Why not @azure/identity's own `proxyOptions` + `tlsOptions`: its pipeline (@typespec/ts-http-runtime
 * proxyPolicy) ignores TLS settings whenever a proxy is set ("TLS settings are not supported in
 * combination with custom Proxy"), so behind a TLS-inspecting corporate proxy, or against the simulator,
 * token requests would not trust the extra CA. Handing the credential an `httpClient` built on this
 * dispatcher fixes that and keeps one proxy implementation (undici's ProxyAgent, the dispatcher Node's
 * fetch needs: an `agent` is ignored on Node 18+).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import type { AllowEntry } from '../../domain/destinations.js';
import type { Settings } from '../../domain/settings.js';
import { SyncError } from '../../domain/errors.js';
import { guardedLookup } from '../guarded-lookup.js';
import { GRAPH_DEFAULTS } from './defaults.js';
import { graphRequestDuration, graphRequests } from './metrics.js';

export interface TransportOptions {
  /** Extra CA (PEM) to trust besides the public roots: the simulator's, or a TLS-inspecting proxy's. */
  ca?: string;
  /** http://host:port (https:// means TLS to the proxy itself). */
  proxyUrl?: string;
  /** The proxy's user and password (Microsoft 365.proxy_username / proxy_password): sent only to the proxy. */
  proxyUser?: string;
  proxyPassword?: string;
  /**
   * Connections per origin.
   * @default GRAPH_DEFAULTS.connections (8)
   */
  connections?: number;
  /**
   * The allow-list, read at each new connection: a name resolving to a private, loopback or
   * link-local address it does not name is refused before connecting (connectors/guarded-lookup.ts).
   */
  allowed?: () => readonly AllowEntry[];
}

function mebibytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB` : `${bytes} bytes`;
}

/** Beyond the cap: not retried (the same page would be as large again). */
export function responseTooLarge(what: string, maxBytes: number, advice = ''): SyncError {
  return new SyncError(
    'GRAPH_REQUEST',
    `${what} answered with a body larger than ${mebibytes(maxBytes)}; it was not read further.${advice ? ` ${advice}` : ''}`,
  );
}

/**
 * A response body, read up to `maxBytes`: beyond it (declared or counted) the body is dropped unread
 * and `responseTooLarge` thrown, so a hostile or broken server cannot fill the worker's memory.
 */
export async function readBodyLimited(
  res: Dispatcher.ResponseData,
  maxBytes: number,
  what: string,
  advice?: string,
): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw responseTooLarge(what, maxBytes, advice);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.body.destroy();
      throw responseTooLarge(what, maxBytes, advice);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The error of a request that outlived its overall deadline (a network failure: retried). */
export class RequestDeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`no complete answer within ${Math.round(deadlineMs / 100) / 10} s`);
    this.name = 'RequestDeadlineError';
  }
}

/** `signal` plus a deadline; `fail(error)` turns an abort by the deadline into RequestDeadlineError. */
export function withDeadline(
  signal: AbortSignal | undefined,
  deadlineMs: number,
): { signal: AbortSignal; fail: (error: unknown) => unknown } {
  const deadline = AbortSignal.timeout(deadlineMs);
  return {
    signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    fail: (error) => (deadline.aborted && !signal?.aborted ? new RequestDeadlineError(deadlineMs) : error),
  };
}

/**
 * The extra CA (PEM) a process trusts for Graph and sign-in: M365SYNC_GRAPH_CA_FILE, plus
 * NODE_EXTRA_CA_CERTS, which Node drops once a CA is given explicitly (undefined: Node's defaults,
 * NODE_EXTRA_CA_CERTS included).
 */
export function graphCaFromSettings(
  settings: Pick<Settings, 'M365SYNC_GRAPH_CA_FILE' | 'NODE_EXTRA_CA_CERTS'>,
): string | undefined {
  if (!settings.M365SYNC_GRAPH_CA_FILE) return undefined;
  return withNodeExtraCa(readFileSync(settings.M365SYNC_GRAPH_CA_FILE, 'utf8'), settings);
}

/** `ca` plus the NODE_EXTRA_CA_CERTS file, which Node no longer adds once a CA is given. */
export function withNodeExtraCa(ca: string, settings: Pick<Settings, 'NODE_EXTRA_CA_CERTS'>): string {
  if (!settings.NODE_EXTRA_CA_CERTS) return ca;
  try {
    return `${readFileSync(settings.NODE_EXTRA_CA_CERTS, 'utf8').trimEnd()}\n${ca}`;
  } catch {
    return ca; // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up
  }
}

/**
 * The TLS context of each extra CA, made once per process: given `ca` itself, Node builds a new
 * context for every connection and parses the public roots (about 140) into it each time (tens of
 * milliseconds of CPU a connection).
 */
const trustContexts = new Map<string, SecureContext>();

/** The CAs to trust: Node's defaults, or the public roots and `ca` (as a shared TLS context). */
function trustedCas(ca: string | undefined): { secureContext: SecureContext } | undefined {
  if (!ca) return undefined; // Node's defaults, NODE_EXTRA_CA_CERTS included
  let secureContext = trustContexts.get(ca);
  if (!secureContext) {
    secureContext = createSecureContext({ ca: [...rootCertificates, ca] });
    trustContexts.set(ca, secureContext);
  }
  return { secureContext };
}

/** Splits `http://user:pass@host:port/` into a credential-free URI and a Proxy-Authorization value. */
export function proxyParts(proxyUrl: string): { uri: string; token?: string } {
  const url = new URL(proxyUrl);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const uri = url.origin;
  if (!user && !password) return { uri };
  return { uri, token: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export function createDispatcher(options: TransportOptions): Dispatcher {
  const connections = options.connections ?? GRAPH_DEFAULTS.connections;
  const tls = trustedCas(options.ca) ?? {};
  const allowed = options.allowed;
  const lookupFor = (kind: 'graph' | 'http_proxy') =>
    allowed ? { lookup: guardedLookup(kind, allowed) } : {};
  if (options.proxyUrl) {
    const parts = proxyParts(options.proxyUrl);
    const { uri } = parts;
    const token =
      parts.token ??
      (options.proxyUser || options.proxyPassword
        ? `Basic ${Buffer.from(`${options.proxyUser ?? ''}:${options.proxyPassword ?? ''}`).toString('base64')}`
        : undefined);
    return new ProxyAgent({
      uri,
      ...(token ? { token } : {}),
      requestTls: tls,
      proxyTls: { ...tls, ...lookupFor('http_proxy') },
      connections,
    });
  }
  return new Agent({ connect: { ...tls, ...lookupFor('graph') }, connections, keepAliveTimeout: 30_000 });
}

/** Metric label for a sign-in URL: never the tenant id in the path. */
function identityEndpoint(url: string): string {
  const path = new URL(url).pathname;
  if (path.endsWith('/oauth2/v2.0/token')) return '/token';
  if (path.endsWith('/openid-configuration')) return '/openid-configuration';
  if (path.includes('/discovery/instance')) return '/discovery/instance';
  return '/other';
}

/**
 * An @azure/identity `httpClient` over the dispatcher. `onRequest` sees every URL the credential
 * contacts (tests use it to prove nothing reaches a Microsoft host).
 */
export interface IdentityHttpClient extends HttpClient {
  /** The last network failure (code and message), so a sign-in error can say why MSAL got nowhere. */
  lastNetworkError: string | undefined;
}

export function identityHttpClient(
  dispatcher: Dispatcher,
  onRequest?: (url: string) => void,
  deadlineMs: number = GRAPH_DEFAULTS.requestDeadlineMs,
): IdentityHttpClient {
  const client: IdentityHttpClient = {
    lastNetworkError: undefined,
    async sendRequest(req: PipelineRequest): Promise<PipelineResponse> {
      onRequest?.(req.url);
      const endpoint = identityEndpoint(req.url);
      if (req.body !== undefined && req.body !== null && typeof req.body !== 'string') {
        throw new SyncError(
          'CONFIGURATION',
          'The token client sent a body that is not text; this is a bug in m365sync.',
        );
      }
      const started = performance.now();
      const limit = withDeadline(req.abortSignal as AbortSignal | undefined, deadlineMs);
      try {
        const res = await request(req.url, {
          method: req.method,
          headers: req.headers.toJSON(),
          ...(typeof req.body === 'string' ? { body: req.body } : {}),
          dispatcher,
          signal: limit.signal,
          ...(req.timeout ? { headersTimeout: req.timeout, bodyTimeout: req.timeout } : {}),
        });
        const bodyAsText = (
          await readBodyLimited(
            res,
            GRAPH_DEFAULTS.identityMaxResponseBytes,
            `The sign-in endpoint (${endpoint})`,
          )
        ).toString('utf8');
        client.lastNetworkError = undefined;
        graphRequests.inc({ endpoint, status: String(res.statusCode) });
        graphRequestDuration.observe({ endpoint }, (performance.now() - started) / 1000);
        const headers = createHttpHeaders();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        return { request: req, status: res.statusCode, headers, bodyAsText };
      } catch (caught) {
        const error = limit.fail(caught);
        graphRequests.inc({ endpoint, status: 'network_error' });
        // Our own words only (a local network error, the deadline, the size cap): never the server's.
        const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
        client.lastNetworkError =
          error instanceof SyncError || error instanceof RequestDeadlineError
            ? error.message
            : [e.code, e.message, e.cause?.code, e.cause?.message].filter(Boolean).join(': ');
        throw error;
      }
    },
  };
  return client;
}
