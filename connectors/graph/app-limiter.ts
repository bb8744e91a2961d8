/**
 * Graph requests per application (client id) across all tenants. Microsoft limits one app to
 * 150,000 resource units per 20 seconds over every tenant it calls (besides the per app-and-tenant
 * limits, which the per-tenant limiter keeps to); a provider syncing thousands of tenants with one
 * multi-tenant app meets this budget first.
 *
 * Resource units to requests: a directory GET costs 2 units before `$select` (−1) and `$expand` (+1)
 * adjust it, so the default counts every request as 2 units: 75,000 requests per 20 s
 * (GRAPH_APP_REQUESTS_PER_WINDOW, docs/graph.md).
 *
 * A fixed window, as Microsoft counts: windows are multiples of `appWindowMs` on Redis's clock, one
 * counter per client id (a hash: the window and its count, one key, fine on Redis Cluster). A request
 * over the budget waits for the next window. One round trip per request, and no connections of its
 * own: a Bottleneck reservoir costs a connection pair per limiter and milliseconds per job, which
 * doubles the time of a page-by-page pull. Without Redis the same window is counted in this process.
 */
import type { Cluster, Redis } from 'ioredis';
import { SyncError } from '../../domain/errors.js';
import { GRAPH_DEFAULTS } from './defaults.js';
import { untilAborted } from '../../domain/abort.js';
import type { GraphLimiter } from './limiter.js';

export interface AppLimiterOptions {
  /**
   * Requests one application may start per window across all tenants.
   * @default GRAPH_DEFAULTS.appRequestsPerWindow (75,000, GRAPH_APP_REQUESTS_PER_WINDOW's default)
   */
  appRequestsPerWindow?: number;
  /**
   * The window, Microsoft's.
   * @default GRAPH_DEFAULTS.appWindowMs (20,000 ms, GRAPH_APP_WINDOW_MS's default)
   */
  appWindowMs?: number;
  /**
   * As the tenant limiter's: the key is `<prefix>:graph-app:<client id>`.
   * @default GRAPH_DEFAULTS.keyPrefix (`m365sync`)
   */
  keyPrefix?: string;
}

/** Counts one request in the current window; returns 0 when within the budget, else ms to its end. */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[1])
local window = math.floor(now / w)
if redis.call('HGET', KEYS[1], 'w') ~= tostring(window) then
  redis.call('HSET', KEYS[1], 'w', tostring(window), 'n', 0)
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], 2 * w)
if n <= tonumber(ARGV[2]) then return 0 end
return (window + 1) * w - now`;

export function createAppLimiter(
  clientId: string,
  redis: Redis | Cluster | undefined,
  options: AppLimiterOptions = {},
): GraphLimiter {
  const budget = options.appRequestsPerWindow ?? GRAPH_DEFAULTS.appRequestsPerWindow;
  const windowMs = options.appWindowMs ?? GRAPH_DEFAULTS.appWindowMs;
  if (!Number.isInteger(budget) || budget < 1 || !Number.isInteger(windowMs) || windowMs < 1)
    throw new SyncError(
      'INVALID_INPUT',
      `Graph app budget: appRequestsPerWindow (${budget}) and appWindowMs (${windowMs}) must be positive integers`,
    );
  // The client id is an application's public identifier, not a secret (it appears in sign-in errors).
  const id = `${options.keyPrefix ?? GRAPH_DEFAULTS.keyPrefix}:graph-app:${clientId}`;
  let local = { window: -1, n: 0 };
  const take = async (): Promise<number> => {
    if (redis) return Number(await redis.eval(TAKE, 1, id, windowMs, budget));
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    if (local.window !== window) local = { window, n: 0 };
    return ++local.n <= budget ? 0 : (window + 1) * windowMs - now;
  };
  return {
    id,
    async schedule(fn, signal) {
      for (;;) {
        const waitMs = await untilAborted(take(), signal);
        if (waitMs <= 0) return fn();
        // Jitter: the waiters of every process do not all come back in the same millisecond.
        const pause = waitMs + Math.random() * Math.min(250, windowMs / 10);
        await untilAborted(new Promise((resolve) => setTimeout(resolve, pause)), signal);
      }
    },
    async close() {},
  };
}
