/**
 * The classify stage of the Graph pipeline: what an answer means. A status and Graph's documented
 * error code become a SyncError with a stable code and what to do (only those: whatever else a body
 * says stays out); the outcomes the retry stage acts on (unreachable, token renewed, busy) are small
 * error classes here, turned into SyncErrors when they end a request.
 */
import { SyncError } from '../../domain/errors.js';
import type { TenantConfig } from '../../domain/tenant.js';
import { permissionFor } from './kinds.js';
import { parseRetryAfter } from './odata.js';
import type { RetryDecision } from '../retry.js';

/** The shape of Graph's documented error codes (`Authorization_RequestDenied`, `Request_BadRequest`, …). */
const GRAPH_ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Graph's `error.code`, when the body is JSON and the code has the shape of one; never `error.message`
 * or anything else the server wrote: a body from a proxy or a foreign host must not reach a run
 * error, an API response or a log line, where it would make the worker an oracle for what lies behind it.
 */
export function graphErrorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' && GRAPH_ERROR_CODE.test(code) ? code : undefined;
}

/** An attempt's outcomes the retry layer judges; turned into SyncErrors when they end the request. */
export class Unreachable extends Error {
  constructor(
    message: string,
    readonly attempt: number,
  ) {
    super(message);
  }
}
export class TokenRenewed extends Error {}
export class Busy extends Error {
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

export function classifyStatus(
  status: number,
  code: string | undefined,
  endpoint: string,
  where: { m365: TenantConfig['Microsoft 365']; graphRoot: string },
): SyncError {
  const { m365, graphRoot } = where;
  // Only what Graph documents: the status and its error code. Whatever else the body says stays out.
  const said = code ? `HTTP ${status}, ${code}` : `HTTP ${status}`;
  // Delta rounds (connectors/graph/delta.ts): an unknown or expired state token, or Graph asking for a
  // resynchronisation, end the round; the caller falls back to a full pull of the kind.
  if (endpoint.endsWith('/delta') && status === 400 && code === 'syncStateNotFound') {
    return new SyncError(
      'DELTA_TOKEN_EXPIRED',
      `Graph ${endpoint}: the delta state is unknown or expired (${said}).`,
    );
  }
  if (endpoint.endsWith('/delta') && status === 410) {
    return new SyncError(
      'DELTA_RESYNC_REQUIRED',
      `Graph ${endpoint} asks for a full resynchronisation (${said}).`,
    );
  }
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

/** The SyncError of an outcome that ended a request (the attempts ran out, or Retry-After was too long). */
export function finalError(
  error: unknown,
  endpoint: string,
  where: { graphOrigin: string; proxyUrl: string | undefined },
): unknown {
  if (error instanceof Unreachable)
    return new SyncError(
      'TRANSIENT',
      `Graph ${endpoint} could not be reached after ${error.attempt} tries (${error.message}): check the network path${where.proxyUrl ? ' and the outbound proxy' : ''} to ${where.graphOrigin}.`,
      { retryable: true },
    );
  if (error instanceof Busy)
    return new SyncError(
      error.status === 429 ? 'THROTTLED' : 'TRANSIENT',
      `Graph ${endpoint} answered ${error.status} ${error.attempt} times${error.retryAfterMs !== undefined ? ` (last Retry-After ${Math.round(error.retryAfterMs / 1000)} s)` : ''}: ` +
        `the tenant is busy or throttled; the sync will be tried again later, or lower the limiter's rate for this tenant.`,
      { retryable: true },
    );
  return error;
}

/** How the retry layer treats an attempt's error (everything not named here is final). */
export function retryDecision(error: unknown, maxRetryAfterMs: number): RetryDecision {
  if (error instanceof TokenRenewed) return 'free';
  if (error instanceof Unreachable) return 'backoff';
  if (!(error instanceof Busy)) return 'stop';
  if (error.retryAfterMs === undefined) return 'backoff';
  return error.retryAfterMs > maxRetryAfterMs ? 'stop' : { waitMs: error.retryAfterMs };
}
