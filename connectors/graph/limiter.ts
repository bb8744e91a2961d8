/**
 * Requests to one tenant's Graph go through one Bottleneck limiter per tenant. With Redis, the limiter
 * lives in Redis (Bottleneck's ioredis datastore), so every worker process that syncs the tenant shares
 * the same concurrency and rate: ten workers do not hammer one tenant ten times harder. Beside it, the
 * per-application budget across tenants (app-limiter.ts): `createGraphLimiters` chains the two.
 */
import Bottleneck from 'bottleneck';
import { Redis, type Cluster } from 'ioredis';
import { createAppLimiter, type AppLimiterOptions } from './app-limiter.js';
import { GRAPH_DEFAULTS } from './defaults.js';
import { withoutHashTag } from '../../domain/redis-keys.js';
import { graphLimiterWait } from './metrics.js';
import { untilAborted } from '../../domain/abort.js';

export interface GraphLimiterOptions {
  /**
   * Requests in flight to one tenant, across all processes.
   * @default GRAPH_DEFAULTS.maxConcurrent (4)
   */
  maxConcurrent?: number;
  /**
   * Requests started per second to one tenant, across all processes.
   * @default GRAPH_DEFAULTS.requestsPerSecond (20)
   */
  requestsPerSecond?: number;
  /**
   * Prefix of the limiter's Redis keys (the worker passes M365SYNC_QUEUE_PREFIX); the full id is
   * `<prefix without braces>:graph:{<tenant id>}`, stored by Bottleneck as `b_<id>_*` keys that expire
   * after 15 minutes unused. The tenant id is their hash tag: Bottleneck's scripts touch several of
   * them at once, which Redis Cluster allows only within one slot (domain/redis-keys.ts).
   * @default GRAPH_DEFAULTS.keyPrefix (`m365sync`)
   */
  keyPrefix?: string;
}

/** Both limits' settings: the tenant's and the application's (same key prefix). */
export type GraphLimitsOptions = GraphLimiterOptions & AppLimiterOptions;

export interface GraphLimiter {
  /**
   * Runs `fn` once the limit lets it go. With `signal`, the wait ends (rejected with the signal's
   * reason) as soon as it aborts, even while the limit's Redis does not answer; `fn` then never runs.
   */
  schedule<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  close(): Promise<void>;
  /** The Bottleneck id (its Redis keys are `b_<id>_*`). */
  id: string;
}

export function createGraphLimiter(
  tenantId: string,
  redis: Redis | Cluster | undefined,
  options: GraphLimiterOptions = {},
  onError: (error: unknown) => void = () => {},
): GraphLimiter {
  const rate = options.requestsPerSecond ?? GRAPH_DEFAULTS.requestsPerSecond;
  const id = `${withoutHashTag(options.keyPrefix ?? GRAPH_DEFAULTS.keyPrefix)}:graph:{${tenantId}}`;
  const settings: Bottleneck.ConstructorOptions = {
    id,
    maxConcurrent: options.maxConcurrent ?? GRAPH_DEFAULTS.maxConcurrent,
    reservoir: rate,
    reservoirRefreshAmount: rate,
    reservoirRefreshInterval: 1000,
  };
  let limiter: Bottleneck;
  if (redis) {
    // Our own connection pair (Bottleneck also duplicates it for pub/sub), so closing the limiter never
    // closes the caller's client.
    const connection = new Bottleneck.IORedisConnection({ client: redis.duplicate(), Redis });
    connection.on('error', onError);
    limiter = new Bottleneck({
      ...settings,
      datastore: 'ioredis',
      connection,
      clearDatastore: false,
      timeout: 15 * 60_000,
    });
  } else {
    limiter = new Bottleneck(settings);
  }
  limiter.on('error', onError);
  return {
    id,
    schedule: (fn, signal) =>
      untilAborted(
        limiter.schedule(() => {
          // Admitted after the run gave up: the slot goes back at once, nothing is sent.
          signal?.throwIfAborted();
          return fn();
        }),
        signal,
      ),
    async close() {
      await limiter.disconnect(true);
    },
  };
}

/**
 * The limits a connector's requests go through: the tenant's (concurrency and rate), then, once the
 * tenant lets a request go, the application's budget across tenants. The time spent waiting at each
 * is observed in `m365sync_graph_limiter_wait_seconds{limit="tenant"|"app"}`.
 */
export function createGraphLimiters(
  ids: { tenantId: string; clientId: string },
  redis: Redis | Cluster | undefined,
  options: GraphLimitsOptions = {},
  onError: (error: unknown) => void = () => {},
): GraphLimiter {
  const tenant = createGraphLimiter(ids.tenantId, redis, options, onError);
  const app = createAppLimiter(ids.clientId, redis, options);
  return {
    id: tenant.id,
    schedule<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      const queued = performance.now();
      return tenant.schedule(() => {
        const admitted = performance.now();
        graphLimiterWait.observe({ limit: 'tenant' }, (admitted - queued) / 1000);
        return app.schedule(() => {
          graphLimiterWait.observe({ limit: 'app' }, (performance.now() - admitted) / 1000);
          return fn();
        }, signal);
      }, signal);
    },
    async close() {
      await Promise.all([tenant.close(), app.close()]);
    },
  };
}
