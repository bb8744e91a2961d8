/**
 * Redis connection options for BullMQ, from the process's settings.
 *
 * - Workers (and QueueEvents, schedulers' workers) use `maxRetriesPerRequest: null` and ioredis's
 *   endless reconnect: when Redis goes away they wait and carry on when it is back (BullMQ relies on
 *   ioredis to reconnect; watch `isRunning()` and the `error` events).
 * - Producers (the CLI, the API) use `enableOfflineQueue: false`: while Redis is down a command fails
 *   at once instead of queueing in memory, so an operator gets an answer. A short-lived producer (the
 *   CLI) also gives up connecting after a few tries (`oneShot`), rather than hang; the API gives every
 *   command a timeout (`commandTimeoutMs`), for a Redis that accepts connections but never answers.
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

export interface ProducerOptions {
  /** The CLI: stop reconnecting after a few attempts. */
  oneShot?: boolean;
  /**
   * The API: every command fails after this long without an answer (a Redis that accepts connections
   * but never answers would otherwise hold a request for ever).
   */
  commandTimeoutMs?: number;
}

/**
 * What ioredis and BullMQ say when Redis is away: bare socket errors ("connect ECONNREFUSED …"),
 * "Connection is closed", "Stream isn't writeable…" (offline queue disabled), "Command timed out".
 * Redis's own refusals (a wrong password) are included; errors of MongoDB's driver are not.
 */
export function isRedisUnavailable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string };
  if (typeof e?.message !== 'string' || /^Mongo/.test(e.name ?? '')) return false;
  const socket = ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN'];
  return (
    socket.includes(e.code ?? '') ||
    /Connection is closed|enableOfflineQueue|MaxRetriesPerRequest|max retries per request|Command timed out|NOAUTH|WRONGPASS/i.test(
      e.message,
    )
  );
}

/**
 * For Queues that add jobs: fail fast while Redis is down. `oneShot` (the CLI) also stops
 * reconnecting after a few attempts so the command ends with an error instead of waiting.
 */
export function producerConnection(
  settings: RedisSettings,
  options: ProducerOptions = {},
): ConnectionOptions {
  return {
    url: settings.url,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
    retryStrategy: options.oneShot
      ? (times: number) => (times > 3 ? null : times * 200)
      : (times: number) => Math.min(times * 200, 5000),
  };
}
