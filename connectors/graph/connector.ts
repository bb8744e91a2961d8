/**
 * The Microsoft Graph connector for one tenant: paged pulls of users, groups, teams and licences as
 * async iterators of pages, /organization, and "Test connection". It wires a small pipeline:
 * request (request.ts: the tenant's undici dispatcher with its outbound proxy and CA, the per-tenant
 * limiter shared through Redis, metrics, the byte cap) → retry (get-json.ts on connectors/retry.ts,
 * p-retry: Retry-After honoured, jittered backoff otherwise, a token renewed once on a 401) →
 * classify (classify.ts) → pager (pager.ts: next links, prefetch, expired page tokens).
 *
 * Requests use undici directly rather than the Graph SDK client (docs/graph.md says why); the
 * simulator is still proven against the SDK's own PageIterator (test/connectors/graph/page-iterator.test.ts).
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { graphEndpoints } from '../../domain/cloud.js';
import type { AllowEntry } from '../../domain/destinations.js';
import { SyncError } from '../../domain/errors.js';
import { redactSecrets } from '../../domain/redaction.js';
import { tenantSecrets, type TenantConfig } from '../../domain/tenant.js';
import { logger as defaultLogger } from '../../observability/logger.js';
import { classifyStatus } from './classify.js';
import { createCredential, TokenSource, type GraphCertificate } from './credential.js';
import { GRAPH_DEFAULTS } from './defaults.js';
import { createGetJson } from './get-json.js';
import { createGraphLimiters, type GraphLimiter, type GraphLimitsOptions } from './limiter.js';
import { anySignal, createPager } from './pager.js';
import { createDeltaReader, type DeltaReader } from './delta.js';
import { readOrganization, testGraphConnection } from './probes.js';
import { createSend } from './request.js';
import { createDispatcher, identityHttpClient } from './transport.js';
import type { GraphConnectorStats, GraphItem, GraphRetryOptions, PagesOptions } from './types.js';
import type { GraphKind } from './kinds.js';

export type { GraphConnectorStats, GraphItem, GraphRetryOptions, PagesOptions } from './types.js';

export interface GraphConnectorOptions {
  /** The tenant, decrypted. */
  tenant: TenantConfig;
  /** The stored certificate, when the tenant signs in with a certificate (no client secret). */
  certificate?: GraphCertificate;
  /** Extra CA (PEM) to trust: the simulator's, or a TLS-inspecting proxy's. See also NODE_EXTRA_CA_CERTS. */
  ca?: string;
  /** Shares the per-tenant limiter across processes; without it the limiter is per process. */
  redis?: Redis | Cluster;
  limiter?: GraphLimitsOptions;
  retry?: GraphRetryOptions;
  /**
   * Fetch the next page while the caller works on the current one: at most 2 pages live per pull.
   * @default GRAPH_DEFAULTS.prefetch (true)
   */
  prefetch?: boolean;
  /**
   * Per-request time limit for headers and for each body chunk.
   * @default GRAPH_DEFAULTS.requestTimeoutMs (120 s)
   */
  requestTimeoutMs?: number;
  /**
   * Overall time for one request, headers and whole body.
   * @default GRAPH_DEFAULTS.requestDeadlineMs (5 minutes, GRAPH_REQUEST_DEADLINE_MS's default)
   */
  requestDeadlineMs?: number;
  /**
   * Largest response body read; beyond it the request fails.
   * @default GRAPH_DEFAULTS.maxResponseBytes (64 MiB, GRAPH_MAX_RESPONSE_BYTES's default)
   */
  maxResponseBytes?: number;
  /**
   * Restarts of one collection after expired page tokens before giving up.
   * @default GRAPH_DEFAULTS.maxRestarts (3)
   */
  maxRestarts?: number;
  logger?: Logger;
  /** Sees every URL the credential contacts (sign-in); for tests and diagnostics. */
  onIdentityRequest?: (url: string) => void;
  /** The destinations allow-list: names resolving to private addresses it does not name are refused. */
  allowedDestinations?: () => readonly AllowEntry[];
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

export interface GraphConnector {
  pages(kind: GraphKind, options?: PagesOptions): AsyncIterable<GraphItem[]>;
  /** Delta rounds of users and groups (delta.ts). */
  delta: DeltaReader;
  testConnection(options?: { signal?: AbortSignal }): Promise<ConnectionTest>;
  /** Reads /organization (Organization.Read.All): the tenant's id, name and initial domain. */
  organization(options?: { signal?: AbortSignal }): Promise<GraphOrganization>;
  readonly stats: GraphConnectorStats;
  close(): Promise<void>;
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

export function createGraphConnector(options: GraphConnectorOptions): GraphConnector {
  const { tenant, certificate } = options;
  const m365 = tenant['Microsoft 365'];
  const endpoints = graphEndpoints(tenant);
  const graphRoot = `${endpoints.graphBaseUrl}/v1.0`;
  const graphOrigin = new URL(endpoints.graphBaseUrl).origin;
  const scrub = scrubber(tenant, certificate);
  const log = (options.logger ?? defaultLogger).child({ component: 'graph', tenant: tenant.Tenant.name });
  const retry = {
    maxAttempts: options.retry?.maxAttempts ?? GRAPH_DEFAULTS.retry.maxAttempts,
    baseDelayMs: options.retry?.baseDelayMs ?? GRAPH_DEFAULTS.retry.baseDelayMs,
    maxDelayMs: options.retry?.maxDelayMs ?? GRAPH_DEFAULTS.retry.maxDelayMs,
    maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? GRAPH_DEFAULTS.retry.maxRetryAfterMs,
  };
  const prefetch = options.prefetch ?? GRAPH_DEFAULTS.prefetch;
  const requestTimeoutMs = options.requestTimeoutMs ?? GRAPH_DEFAULTS.requestTimeoutMs;
  const requestDeadlineMs = options.requestDeadlineMs ?? GRAPH_DEFAULTS.requestDeadlineMs;
  const maxResponseBytes = options.maxResponseBytes ?? GRAPH_DEFAULTS.maxResponseBytes;
  const maxRestarts = options.maxRestarts ?? GRAPH_DEFAULTS.maxRestarts;
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
  const limiter: GraphLimiter = createGraphLimiters(
    { tenantId: m365.tenant_id, clientId: m365.client_id },
    options.redis,
    options.limiter,
    (error) => log.warn({ err: scrub(String(error)) }, 'Graph limiter datastore error'),
  );

  const stats: GraphConnectorStats = { livePages: 0, maxLivePages: 0, pagesFetched: 0, requests: 0 };
  const closing = new AbortController();

  // The pipeline: request (limiter, metrics, byte cap) → retry (p-retry) → classify → pager.
  const send = createSend({
    dispatcher,
    limiter,
    stats,
    requestTimeoutMs,
    requestDeadlineMs,
    maxResponseBytes,
  });
  const getJson = createGetJson({
    send,
    tokens,
    retry,
    classify: (status, code, endpoint) => classifyStatus(status, code, endpoint, { m365, graphRoot }),
    scrub,
    graphOrigin,
    proxyUrl,
    log,
  });
  const pages = createPager({
    tenant,
    getJson,
    graphRoot,
    graphOrigin,
    stats,
    prefetch,
    maxRestarts,
    closing: closing.signal,
    log,
  });

  const deltaReader = createDeltaReader({ getJson, graphRoot, graphOrigin, stats, prefetch });

  return {
    pages,
    delta: {
      round: (kind, { link, signal }) =>
        deltaReader.round(kind, { ...(link ? { link } : {}), signal: anySignal([signal, closing.signal]) }),
      latest: (kind, { signal }) => deltaReader.latest(kind, { signal: anySignal([signal, closing.signal]) }),
    },
    testConnection: ({ signal } = {}) =>
      testGraphConnection({
        getJson,
        tokens,
        graphRoot,
        endpoints,
        signal: anySignal([signal, closing.signal]),
      }),
    organization: ({ signal } = {}) =>
      readOrganization(getJson, graphRoot, anySignal([signal, closing.signal])),
    stats,
    async close() {
      closing.abort(new SyncError('CANCELLED', 'The Graph connector was closed.'));
      await limiter.close().catch(ignoreBecause('closing: the limiter is no longer used', log));
      await dispatcher.close().catch(ignoreBecause('closing: the dispatcher is no longer used', log));
    },
  };
}
