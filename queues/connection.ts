/**
 * Redis connection options for BullMQ, from the process's settings.
 *
 * - Workers (and QueueEvents, schedulers' workers) use `maxRetriesPerRequest: null` and ioredis's
 *   endless reconnect: when Redis goes away they wait and carry on when it is back (BullMQ relies on
 *   ioredis to reconnect; watch `isRunning()` and the `error` events).
 * - Producers (the CLI, the API) use `enableOfflineQueue: false`: while Redis is down a command fails
 *   at once instead of queueing in memory, so an operator gets an answer. A short-lived producer (the
 *   CLI) also gives up connecting after a few tries (`oneShot`), rather than hang.
 * - `prefix` is the BullMQ key prefix (default `m365sync`); tests use one of their own per file.
 */
import type { ConnectionOptions } from 'bullmq';
import type { Settings } from '../domain/settings.js';

export interface RedisSettings {
  url: string;
  /** BullMQ key prefix. Wrap it in braces (`{m365sync}`) on Redis Cluster so a queue shares one slot. */
  prefix: string;
}

/** REDIS_URL and M365SYNC_QUEUE_PREFIX (checked by parseSettings). */
export function redisSettings(
  settings: Pick<Settings, 'REDIS_URL' | 'M365SYNC_QUEUE_PREFIX'>,
): RedisSettings {
  return { url: settings.REDIS_URL, prefix: settings.M365SYNC_QUEUE_PREFIX };
}

/** The URL without its password, for logs and messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** For Workers and QueueEvents: retry every command until Redis answers, reconnect forever. */
export function workerConnection(settings: RedisSettings): ConnectionOptions {
  return {
    url: settings.url,
    maxRetriesPerRequest: null,
    // ioredis's default reconnect delay grows to 2 s; keep trying indefinitely.
    retryStrategy: (times: number) => Math.min(times * 200, 5000),
  };
}

/**
 * For Queues that add jobs: fail fast while Redis is down. `oneShot` (the CLI) also stops
 * reconnecting after a few attempts so the command ends with an error instead of waiting.
 */
export function producerConnection(
  settings: RedisSettings,
  options: { oneShot?: boolean } = {},
): ConnectionOptions {
  return {
    url: settings.url,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: options.oneShot
      ? (times: number) => (times > 3 ? null : times * 200)
      : (times: number) => Math.min(times * 200, 5000),
  };
}
