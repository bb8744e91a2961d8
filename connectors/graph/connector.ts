/**
 * The Microsoft Graph connector for one tenant: paged pulls of users, groups, teams and licences as
 * async iterators of pages, with one retry layer (connectors/retry.ts on p-retry: Retry-After honoured,
 * jittered backoff otherwise),
 * a per-tenant limiter shared through Redis, a token renewed before expiry and once on a 401, the
 * tenant's outbound proxy for every request, and metrics for all of it.
 *
 * Requests use undici directly rather than the Graph SDK client: the SDK's default middleware has its
 * own RetryHandler (a second retry layer), and its URL checks reject non-Microsoft hosts. The simulator
 * is still proven against the SDK's own PageIterator (test/graph/page-iterator.test.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { graphEndpoints } from '../../domain/cloud.js';
import { printable } from '../../domain/actor.js';
import type { AllowEntry } from '../../domain/destinations.js';
import { SyncError } from '../../domain/errors.js';
import { redactSecrets } from '../../domain/redaction.js';
import { tenantSecrets, type TenantConfig } from '../../domain/tenant.js';
import { logger as defaultLogger } from '../../observability/logger.js';
import { createCredential, TokenSource, type GraphCertificate } from './credential.js';
import { collectionRequest, permissionFor, type GraphKind } from './kinds.js';
import { createGraphLimiter, type GraphLimiter, type GraphLimiterOptions } from './limiter.js';
import {
  graphPageTokenRestarts,
  graphRequestDuration,
  graphRequests,
  graphRetryWait,
  graphThrottled,
} from './metrics.js';
import { withRetries } from '../retry.js';
import { parseRetryAfter, stripODataAnnotations } from './odata.js';
import {
  createDispatcher,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_REQUEST_DEADLINE_MS,
  identityHttpClient,
  readBodyLimited,
  withDeadline,
} from './transport.js';

export type GraphItem = Record<string, unknown>;

export interface GraphRetryOptions {
  /** Tries per request, the first included (default 8). */
  maxAttempts?: number;
  /** First backoff step when the server gives no Retry-After (default 1000 ms). */
  baseDelayMs?: number;
  /** Largest backoff step (default 60 s). */
  maxDelayMs?: number;
  /** A Retry-After longer than this fails the request instead of parking the worker (default 10 min). */
  maxRetryAfterMs?: number;
}

export interface GraphConnectorOptions {
  /** The tenant, decrypted. */
  tenant: TenantConfig;
  /** The stored certificate, when the tenant signs in with a certificate (no client secret). */
  certificate?: GraphCertificate;
  /** Extra CA (PEM) to trust: the simulator's, or a TLS-inspecting proxy's. See also NODE_EXTRA_CA_CERTS. */
  ca?: string;
  /** Shares the per-tenant limiter across processes; without it the limiter is per process. */
  redis?: Redis;
  limiter?: GraphLimiterOptions;
  retry?: GraphRetryOptions;
  /** Fetch the next page while the caller works on the current one (default true): at most 2 pages live per pull. */
  prefetch?: boolean;
  /** Per-request time limit for headers and for each body chunk (default 120 s). */
  requestTimeoutMs?: number;
  /** Overall time for one request, headers and whole body (default 5 min; GRAPH_REQUEST_DEADLINE_MS). */
  requestDeadlineMs?: number;
  /** Largest response body read; beyond it the request fails (default 64 MiB; GRAPH_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /** Restarts of one collection after expired page tokens before giving up (default 3). */
  maxRestarts?: number;
  logger?: Logger;
  /** Sees every URL the credential contacts (sign-in); for tests and diagnostics. */
  onIdentityRequest?: (url: string) => void;
  /** The destinations allow-list: names resolving to private addresses it does not name are refused. */
  allowedDestinations?: () => readonly AllowEntry[];
}

export interface PagesOptions {
  signal?: AbortSignal;
  /**
   * Graph said the page token expired and the collection starts again from its first page: pages
   * already handed on come again (upserts are idempotent, so a caller usually needs do nothing).
   */
  onRestart?: (info: { kind: GraphKind; restart: number; pagesBefore: number }) => void;
}

export interface ConnectionCheck {
  endpoint: string;
  permission: string;
  ok: boolean;
  /** What failed when not ok (PERMISSION, ENDPOINT_NOT_FOUND, THROTTLED, …). */
  code?: string;
  /** What to do when not ok. */
  message?: string;
}

export interface ConnectionTest {
  ok: boolean;
  graphBaseUrl: string;
  authorityHost: string;
  organization?: { id: string; displayName: string };
  checks: ConnectionCheck[];
  durationMs: number;
}

/** The tenant's organization as Graph /organization describes it. */
export interface GraphOrganization {
  id: string;
  displayName: string;
  /** The initial `*.onmicrosoft.com` domain (verifiedDomains with isInitial), if Graph lists one. */
  initialDomain?: string;
}

export interface GraphConnectorStats {
  /** Pages parsed and not yet released by the caller (held or fetched ahead). */
  livePages: number;
  maxLivePages: number;
  pagesFetched: number;
  requests: number;
}

export interface GraphConnector {
  pages(kind: GraphKind, options?: PagesOptions): AsyncIterable<GraphItem[]>;
  testConnection(options?: { signal?: AbortSignal }): Promise<ConnectionTest>;
  /** Reads /organization (Organization.Read.All): the tenant's id, name and initial domain. */
  organization(options?: { signal?: AbortSignal }): Promise<GraphOrganization>;
  readonly stats: GraphConnectorStats;
  close(): Promise<void>;
}

interface Page {
  items: GraphItem[];
  nextLink: string | undefined;
}

/** Replaces every secret the tenant holds (and the certificate key) in a text with a mask. */
function scrubber(tenant: TenantConfig, certificate: GraphCertificate | undefined): (text: string) => string {
  const secrets = [...tenantSecrets(tenant)];
  if (certificate) secrets.push(certificate.privateKeyPem.trim());
  return (text) =>
    // A PEM key that slipped in some other form
    redactSecrets(text, secrets).replace(
      /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
      '********',
    );
}

/** The shape of Graph's documented error codes (`Authorization_RequestDenied`, `Request_BadRequest`, …). */
const GRAPH_ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Graph's `error.code`, when the body is JSON and the code has the shape of one; never `error.message`
 * or anything else the server wrote: a body from a proxy or a foreign host must not reach a run
 * error, an API response or a log line, where it would make the worker an oracle for what lies behind it.
 */
function graphErrorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' && GRAPH_ERROR_CODE.test(code) ? code : undefined;
}

/** The OAuth error and AADSTS code of a failed sign-in, and its HTTP status: never its description. */
export function signInFailureReason(error: unknown): string {
  const e = error as { statusCode?: unknown; errorResponse?: { error?: unknown }; message?: unknown };
  const parts: string[] = [];
  if (typeof e?.statusCode === 'number') parts.push(`HTTP ${e.statusCode}`);
  const oauth = e?.errorResponse?.error;
  if (typeof oauth === 'string' && /^[a-z_]{1,64}$/.test(oauth)) parts.push(oauth);
  const aadsts = typeof e?.message === 'string' ? /\bAADSTS\d{1,9}\b/.exec(e.message)?.[0] : undefined;
  if (aadsts) parts.push(aadsts);
  return parts.length > 0 ? parts.join(', ') : 'no error code given';
}

/** A JSON media type (`application/json`, with Graph's OData parameters, or `…+json`). */
function isJson(contentType: string | string[] | undefined): boolean {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType)
    ?.split(';')[0]
    ?.trim()
    .toLowerCase();
  return type === 'application/json' || (type?.startsWith('application/') === true && type.endsWith('+json'));
}

/** Organisation names are shown to operators: control characters escaped, and not too long. */
function displayText(value: unknown): string {
  return printable(String(value)).slice(0, 256);
}

function isGraphCollection(
  body: { value?: unknown; '@odata.context'?: unknown } | undefined,
): body is { value: GraphItem[]; '@odata.context': string; '@odata.nextLink'?: unknown } {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof body['@odata.context'] === 'string' &&
    Array.isArray(body.value) &&
    body.value.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))
  );
}

function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

/** An attempt's outcomes the retry layer judges; turned into SyncErrors when they end the request. */
class Unreachable extends Error {
  constructor(
    message: string,
    readonly attempt: number,
  ) {
    super(message);
  }
}
class TokenRenewed extends Error {}
class Busy extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly status: number,
    readonly retryAfter: string | string[] | undefined,
    readonly attempt: number,
  ) {
    super(`HTTP ${status}`);
    this.retryAfterMs = parseRetryAfter(retryAfter);
  }
}

export function createGraphConnector(options: GraphConnectorOptions): GraphConnector {
  const { tenant, certificate } = options;
  const m365 = tenant['Microsoft 365'];
  const endpoints = graphEndpoints(tenant);
  const graphRoot = `${endpoints.graphBaseUrl}/v1.0`;
  const graphOrigin = new URL(endpoints.graphBaseUrl).origin;
  const scrub = scrubber(tenant, certificate);
  const log = (options.logger ?? defaultLogger).child({ component: 'graph', tenant: tenant.Tenant.name });
  const retry = {
    maxAttempts: options.retry?.maxAttempts ?? 8,
    baseDelayMs: options.retry?.baseDelayMs ?? 1000,
    maxDelayMs: options.retry?.maxDelayMs ?? 60_000,
    maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 10 * 60_000,
  };
  const prefetch = options.prefetch ?? true;
  const requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
  const requestDeadlineMs = options.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const maxRestarts = options.maxRestarts ?? 3;
  const proxyUrl = m365.https_proxy ?? m365.http_proxy;

  const dispatcher: Dispatcher = createDispatcher({
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.allowedDestinations ? { allowed: options.allowedDestinations } : {}),
    ...(proxyUrl ? { proxyUrl, proxyUser: m365.proxy_username, proxyPassword: m365.proxy_password } : {}),
  });
  const httpClient = identityHttpClient(dispatcher, options.onIdentityRequest, requestDeadlineMs);
  // Build the credential now, so a configuration problem (no certificate, wrong thumbprint) fails at once.
  const firstCredential = createCredential(tenant, certificate, httpClient);
  let credentialsMade = 0;
  const tokens = new TokenSource({
    scope: endpoints.scope,
    makeCredential: () =>
      credentialsMade++ === 0 ? firstCredential : createCredential(tenant, certificate, httpClient),
    describeFailure: (error) => {
      const network = httpClient.lastNetworkError;
      if (network) {
        return new SyncError(
          'AUTHENTICATION',
          `Could not reach the sign-in endpoint ${endpoints.authorityHost} for tenant ${m365.tenant_id} (${scrub(network)}). ` +
            `Check the network path${proxyUrl ? ', the outbound proxy and its user and password' : ''}; behind a TLS-inspecting proxy or a private CA, give its CA certificate (NODE_EXTRA_CA_CERTS).`,
          { retryable: true },
        );
      }
      const reason = signInFailureReason(error);
      return new SyncError(
        'AUTHENTICATION',
        `Could not sign in to tenant ${m365.tenant_id} as app ${m365.client_id} at ${endpoints.authorityHost} (${reason}). ` +
          `Check Microsoft 365.client_id, tenant_id and the ${m365.client_secret ? 'client secret' : 'certificate'}, and that the app registration exists in that cloud.`,
        { retryable: false },
      );
    },
  });
  const limiter: GraphLimiter = createGraphLimiter(m365.tenant_id, options.redis, options.limiter, (error) =>
    log.warn({ err: scrub(String(error)) }, 'Graph limiter datastore error'),
  );

  const stats: GraphConnectorStats = { livePages: 0, maxLivePages: 0, pagesFetched: 0, requests: 0 };
  const closing = new AbortController();

  /** One HTTP exchange, through the limiter. Never retries: that is `getJson`'s job. */
  async function send(
    url: string,
    token: string,
    endpoint: string,
    signal: AbortSignal,
    extraHeaders?: Record<string, string>,
  ) {
    return limiter.schedule(async () => {
      signal.throwIfAborted();
      stats.requests++;
      const started = performance.now();
      const limit = withDeadline(signal, requestDeadlineMs);
      let counted = false;
      try {
        const res = await request(url, {
          method: 'GET',
          headers: { ...extraHeaders, authorization: `Bearer ${token}`, accept: 'application/json' },
          dispatcher,
          signal: limit.signal,
          headersTimeout: requestTimeoutMs,
          bodyTimeout: requestTimeoutMs,
        });
        graphRequests.inc({ endpoint, status: String(res.statusCode) });
        counted = true;
        const raw = await readBodyLimited(
          res,
          maxResponseBytes,
          `Graph ${endpoint}`,
          "Lower the tenant's page size, or raise GRAPH_MAX_RESPONSE_BYTES if its pages really are that large.",
        );
        const json = isJson(res.headers['content-type']);
        let body: unknown;
        if (json) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            body = undefined; // an empty or broken body: judged by its status below
          }
        }
        graphRequestDuration.observe({ endpoint }, (performance.now() - started) / 1000);
        return { status: res.statusCode, headers: res.headers, body, json };
      } catch (caught) {
        const error = limit.fail(caught);
        if (!counted) graphRequests.inc({ endpoint, status: signal.aborted ? 'cancelled' : 'network_error' });
        throw error;
      }
    });
  }

  /** GET with the one retry layer (connectors/retry.ts): each attempt is one exchange, judged here. */
  async function getJson(
    url: string,
    endpoint: string,
    signal: AbortSignal,
    extraHeaders?: Record<string, string>,
  ): Promise<unknown> {
    let renewed = false;
    try {
      return await withRetries(
        async (attempt) => {
          const token = await tokens.get(signal);
          let res: Awaited<ReturnType<typeof send>>;
          try {
            res = await send(url, token, endpoint, signal, extraHeaders);
          } catch (error) {
            if (signal.aborted || error instanceof SyncError) throw error; // cancelled, or a body over the cap
            throw new Unreachable(
              scrub((error as { code?: string }).code ?? (error as Error).message),
              attempt,
            );
          }
          const { status, headers, body, json } = res;
          if (status >= 200 && status < 300) {
            if (!json || body === undefined) {
              throw new SyncError(
                'GRAPH_REQUEST',
                `Graph ${endpoint} answered ${status} without a JSON body; is graph_base_url a Graph endpoint?`,
              );
            }
            return body;
          }
          if (status === 401 && !renewed) {
            // Expired or revoked token: renew once and try again (not counted as an attempt).
            renewed = true;
            log.info({ endpoint }, 'Graph rejected the access token, renewing it');
            await tokens.renew(token, signal);
            throw new TokenRenewed();
          }
          if (status === 429 || status === 503 || status === 504) {
            graphThrottled.inc({ endpoint, status: String(status) });
            throw new Busy(status, headers['retry-after'], attempt);
          }
          throw classify(status, graphErrorCode(body), endpoint);
        },
        {
          attempts: retry.maxAttempts,
          baseDelayMs: retry.baseDelayMs,
          maxDelayMs: retry.maxDelayMs,
          signal,
          classify: (error) => {
            if (error instanceof TokenRenewed) return 'free';
            if (error instanceof Unreachable) return 'backoff';
            if (!(error instanceof Busy)) return 'stop';
            if (error.retryAfterMs === undefined) return 'backoff';
            return error.retryAfterMs > retry.maxRetryAfterMs ? 'stop' : { waitMs: error.retryAfterMs };
          },
          onRetry: ({ error, attempt, waitMs }) => {
            if (error instanceof Busy)
              log.warn(
                { endpoint, status: error.status, attempt, waitMs, retryAfter: error.retryAfter },
                'Graph asked us to slow down',
              );
            else
              log.warn(
                { endpoint, attempt, error: (error as Error).message },
                'Graph request failed, retrying',
              );
          },
          onWaited: ({ reason, waitedMs }) =>
            graphRetryWait.observe(
              { endpoint, reason: reason === 'server' ? 'retry_after' : 'backoff' },
              waitedMs / 1000,
            ),
        },
      );
    } catch (error) {
      if (signal.aborted) {
        throw new SyncError('CANCELLED', `Graph ${endpoint} read cancelled.`, { cause: signal.reason });
      }
      if (error instanceof Unreachable)
        throw new SyncError(
          'TRANSIENT',
          `Graph ${endpoint} could not be reached after ${error.attempt} tries (${error.message}): check the network path${proxyUrl ? ' and the outbound proxy' : ''} to ${graphOrigin}.`,
          { retryable: true },
        );
      if (error instanceof Busy)
        throw new SyncError(
          error.status === 429 ? 'THROTTLED' : 'TRANSIENT',
          `Graph ${endpoint} answered ${error.status} ${error.attempt} times${error.retryAfterMs !== undefined ? ` (last Retry-After ${Math.round(error.retryAfterMs / 1000)} s)` : ''}: ` +
            `the tenant is busy or throttled; the sync will be tried again later, or lower the limiter's rate for this tenant.`,
          { retryable: true },
        );
      throw error;
    }
  }

  function classify(status: number, code: string | undefined, endpoint: string): SyncError {
    // Only what Graph documents: the status and its error code. Whatever else the body says stays out.
    const said = code ? `HTTP ${status}, ${code}` : `HTTP ${status}`;
    if (status === 400 && code === 'Directory_ExpiredPageToken') {
      return new SyncError('PAGE_TOKEN_EXPIRED', `Graph ${endpoint}: the page token expired (${said}).`, {
        retryable: true,
      });
    }
    if (status === 410) {
      return new SyncError('PAGE_TOKEN_EXPIRED', `Graph ${endpoint}: the paging state is gone (${said}).`, {
        retryable: true,
      });
    }
    if (status === 401) {
      return new SyncError(
        'AUTHENTICATION',
        `Graph ${endpoint} rejected a freshly issued token (${said}): check that the app registration ${m365.client_id} is enabled in tenant ${m365.tenant_id} and that graph_base_url matches the cloud of authority_host.`,
      );
    }
    if (status === 403) {
      const permission = permissionFor(endpoint);
      return new SyncError(
        'PERMISSION',
        `Graph returned 403 for ${endpoint} (${said}): grant the application permission ${permission} to app ${m365.client_id} and give admin consent in tenant ${m365.tenant_id}.`,
      );
    }
    if (status === 404) {
      return new SyncError(
        'ENDPOINT_NOT_FOUND',
        `Graph has no ${endpoint} at ${graphRoot} (${said}): check Microsoft 365.graph_base_url (the Graph root of the tenant's cloud, ` +
          `such as https://graph.microsoft.com, with no path) and Microsoft 365.cloud (${m365.cloud ?? 'global'}).`,
      );
    }
    return new SyncError(
      'GRAPH_REQUEST',
      `Graph ${endpoint} answered ${status} (${said}); this request is not retried: check the tenant's Graph settings (page sizes, base URL).`,
    );
  }

  async function fetchPage(
    url: string,
    endpoint: string,
    signal: AbortSignal,
    extraHeaders?: Record<string, string>,
  ): Promise<Page> {
    if (new URL(url).origin !== graphOrigin) {
      // A bearer token never leaves the configured Graph host.
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} returned a next link to another host; refusing to follow it.`,
      );
    }
    const body = (await getJson(url, endpoint, signal, extraHeaders)) as
      { value?: unknown; '@odata.context'?: unknown; '@odata.nextLink'?: unknown } | undefined;
    // The envelope is checked by hand, not with zod: it is parsed once per page on the hot path.
    // Graph's collections always carry @odata.context and a "value" array of objects; anything else is
    // not stored as imported objects, whatever host answered.
    if (!isGraphCollection(body)) {
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} answered with something that is not a Graph collection (no @odata.context, or no "value" array of objects); is graph_base_url a Graph endpoint?`,
      );
    }
    const next = body['@odata.nextLink'];
    if (next !== undefined && typeof next !== 'string') {
      throw new SyncError('GRAPH_REQUEST', `Graph ${endpoint} answered with a next link that is not text.`);
    }
    const items = body.value as GraphItem[];
    for (const item of items) stripODataAnnotations(item);
    stats.pagesFetched++;
    stats.livePages++;
    stats.maxLivePages = Math.max(stats.maxLivePages, stats.livePages);
    return { items, nextLink: next };
  }

  function release() {
    stats.livePages--;
  }

  async function* pages(kind: GraphKind, pagesOptions: PagesOptions = {}): AsyncGenerator<GraphItem[]> {
    const spec = collectionRequest(kind, tenant);
    const firstUrl = `${graphRoot}${spec.pathAndQuery}`;
    const controller = new AbortController();
    const signal = anySignal([pagesOptions.signal, closing.signal, controller.signal]);
    let pending: Promise<Page> | undefined;
    let restarts = 0;
    let handedOn = 0;
    try {
      pending = fetchPage(firstUrl, spec.endpoint, signal, spec.headers);
      let emptyInARow = 0;
      while (pending) {
        let page: Page;
        try {
          page = await pending;
        } catch (error) {
          pending = undefined;
          if (error instanceof SyncError && error.code === 'PAGE_TOKEN_EXPIRED' && restarts < maxRestarts) {
            restarts++;
            graphPageTokenRestarts.inc({ endpoint: spec.endpoint });
            log.warn(
              { endpoint: spec.endpoint, restart: restarts, pagesBefore: handedOn },
              'Graph page token expired, restarting the collection',
            );
            pagesOptions.onRestart?.({ kind, restart: restarts, pagesBefore: handedOn });
            pending = fetchPage(firstUrl, spec.endpoint, signal, spec.headers);
            continue;
          }
          throw error;
        }
        emptyInARow = page.items.length === 0 ? emptyInARow + 1 : 0;
        if (emptyInARow > 1000) {
          release();
          throw new SyncError(
            'GRAPH_REQUEST',
            `Graph ${spec.endpoint} sent 1000 empty pages in a row; giving up on this collection.`,
          );
        }
        const next = page.nextLink;
        // Fetch one page ahead while the caller works on this one: at most two pages live per pull.
        pending = next && prefetch ? fetchPage(next, spec.endpoint, signal, spec.headers) : undefined;
        pending?.catch(() => {}); // handled when awaited; never an unhandled rejection meanwhile
        const items = page.items;
        (page as Partial<Page>).items = undefined;
        try {
          handedOn++;
          yield items;
        } finally {
          release();
        }
        if (!pending && next) pending = fetchPage(next, spec.endpoint, signal, spec.headers);
      }
    } finally {
      // The caller stopped early, failed, or finished: cancel and release what was fetched ahead.
      controller.abort();
      if (pending) {
        await pending.then(
          () => release(),
          () => {},
        );
      }
    }
  }

  async function organization({ signal }: { signal?: AbortSignal } = {}): Promise<GraphOrganization> {
    const s = anySignal([signal, closing.signal]);
    const body = (await getJson(
      `${graphRoot}/organization?$select=id,displayName,verifiedDomains`,
      '/organization',
      s,
    )) as { value?: GraphItem[] } | undefined;
    const org = body?.value?.[0];
    if (!org) {
      throw new SyncError(
        'GRAPH_REQUEST',
        'Graph /organization answered without an organization; is graph_base_url a Graph endpoint?',
      );
    }
    const domains = Array.isArray(org.verifiedDomains) ? (org.verifiedDomains as GraphItem[]) : [];
    const initial = domains.find((d) => d.isInitial === true && typeof d.name === 'string');
    return {
      id: String(org.id),
      displayName: String(org.displayName),
      ...(initial ? { initialDomain: String(initial.name) } : {}),
    };
  }

  async function testConnection({ signal }: { signal?: AbortSignal } = {}): Promise<ConnectionTest> {
    const started = performance.now();
    const s = anySignal([signal, closing.signal]);
    await tokens.get(s);
    const checks: ConnectionCheck[] = [];
    let organization: ConnectionTest['organization'];
    const probes: [string, string, string][] = [
      ['/organization', '/organization?$select=id,displayName', 'Organization.Read.All'],
      ['/users', '/users?$top=1&$select=id', 'User.Read.All'],
      ['/groups', '/groups?$top=1&$select=id', 'Group.Read.All'],
      ['/subscribedSkus', '/subscribedSkus?$select=skuId', 'Organization.Read.All'],
    ];
    for (const [endpoint, pathAndQuery, permission] of probes) {
      try {
        const body = (await getJson(`${graphRoot}${pathAndQuery}`, endpoint, s)) as { value?: GraphItem[] };
        if (!isGraphCollection(body)) {
          throw new SyncError(
            'GRAPH_REQUEST',
            `Graph ${endpoint} answered with something that is not a Graph collection; is graph_base_url a Graph endpoint?`,
          );
        }
        if (endpoint === '/organization' && body.value[0]) {
          organization = {
            id: displayText(body.value[0].id),
            displayName: displayText(body.value[0].displayName),
          };
        }
        checks.push({ endpoint, permission, ok: true });
      } catch (error) {
        if (!(error instanceof SyncError) || error.code === 'CANCELLED' || error.code === 'AUTHENTICATION')
          throw error;
        checks.push({ endpoint, permission, ok: false, code: error.code, message: error.message });
      }
    }
    return {
      ok: checks.every((c) => c.ok),
      graphBaseUrl: endpoints.graphBaseUrl,
      authorityHost: endpoints.authorityHost,
      ...(organization ? { organization } : {}),
      checks,
      durationMs: Math.round(performance.now() - started),
    };
  }

  return {
    pages,
    testConnection,
    organization,
    stats,
    async close() {
      closing.abort(new SyncError('CANCELLED', 'The Graph connector was closed.'));
      await limiter.close().catch(() => {});
      await dispatcher.close().catch(() => {});
    },
  };
}
