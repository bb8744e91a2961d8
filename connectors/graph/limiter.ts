/**
 * Requests to one tenant's Graph go through one Bottleneck limiter per tenant. With Redis, the limiter
 * lives in Redis (Bottleneck's ioredis datastore), so every worker process that syncs the tenant shares
 * the same concurrency and rate: ten workers do not hammer one tenant ten times harder.
 */
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';

export interface GraphLimiterOptions {
  /** Requests in flight to one tenant, across all processes (default 4). */
  maxConcurrent?: number;
  /** Requests started per second to one tenant, across all processes (default 20). */
  requestsPerSecond?: number;
  /**
   * Prefix of the limiter's Redis keys (default `m365sync`); the full id is `<prefix>:graph:<tenant id>`,
   * stored by Bottleneck as `b_<id>_*` keys that expire after 15 minutes unused.
   */
  keyPrefix?: string;
}

export interface GraphLimiter {
  schedule<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** The Bottleneck id (its Redis keys are `b_<id>_*`). */
  id: string;
}

export function createGraphLimiter(
  tenantId: string,
  redis: Redis | undefined,
  options: GraphLimiterOptions = {},
  onError: (error: unknown) => void = () => {},
): GraphLimiter {
  const rate = options.requestsPerSecond ?? 20;
  const id = `${options.keyPrefix ?? 'm365sync'}:graph:${tenantId}`;
  const settings: Bottleneck.ConstructorOptions = {
    id,
    maxConcurrent: options.maxConcurrent ?? 4,
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
    schedule: (fn) => limiter.schedule(fn),
    async close() {
      await limiter.disconnect(true);
    },
  };
}
