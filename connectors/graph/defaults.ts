/**
 * What each Graph connector option means when a caller leaves it out, written once: the option
 * interfaces' `@default` tags name these, and the code reads them from here. A default a deployment
 * can change through an environment variable is that variable's default in domain/settings.ts, never
 * a second copy of the number.
 */
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

export const GRAPH_DEFAULTS = Object.freeze({
  /** Largest Graph response body read (GRAPH_MAX_RESPONSE_BYTES, 64 MiB): a 999-object page is a few MB. */
  maxResponseBytes: DEFAULT_SETTINGS.GRAPH_MAX_RESPONSE_BYTES,
  /**
   * Overall time for one request, headers and whole body (GRAPH_REQUEST_DEADLINE_MS, 5 minutes):
   * undici's bodyTimeout is per chunk, so a server that trickles a byte at a time would otherwise
   * never end.
   */
  requestDeadlineMs: DEFAULT_SETTINGS.GRAPH_REQUEST_DEADLINE_MS,
  /** Largest sign-in response read (OpenID configuration, token): a few KB in practice. */
  identityMaxResponseBytes: 1024 * 1024,
  /** Per-request time limit for headers and for each body chunk. */
  requestTimeoutMs: 120_000,
  /** Fetch the next page while the caller works on the current one. */
  prefetch: true,
  /** Restarts of one collection after expired page tokens before giving up. */
  maxRestarts: 3,
  /** Connections per origin of one tenant's dispatcher. */
  connections: 8,
  /** Retries of one request (connectors/retry.ts). */
  retry: Object.freeze({
    /** Tries per request, the first included. */
    maxAttempts: 8,
    /** First backoff step when the server gives no Retry-After. */
    baseDelayMs: 1000,
    /** Largest backoff step. */
    maxDelayMs: 60_000,
    /** A Retry-After longer than this fails the request instead of parking the worker. */
    maxRetryAfterMs: 10 * 60_000,
  }),
  /** Renew a token this long before it expires, as MSAL does. */
  refreshMarginMs: 5 * 60_000,
  /** Prefix of the limiters' Redis keys (and of the fleet's WinRM shell slots beside them). */
  keyPrefix: 'm365sync',
  /** Requests in flight to one tenant, across all processes. */
  maxConcurrent: 4,
  /** Requests started per second to one tenant, across all processes. */
  requestsPerSecond: 20,
  /** Requests one application may start per window across all tenants (GRAPH_APP_REQUESTS_PER_WINDOW). */
  appRequestsPerWindow: DEFAULT_SETTINGS.GRAPH_APP_REQUESTS_PER_WINDOW,
  /** The per-application window, Microsoft's (GRAPH_APP_WINDOW_MS). */
  appWindowMs: DEFAULT_SETTINGS.GRAPH_APP_WINDOW_MS,
});
