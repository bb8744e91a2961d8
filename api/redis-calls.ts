/**
 * Every Redis call the API makes goes through `queueCall`, so none waits longer than the API's Redis
 * service timeout (M365SYNC_API_SERVICE_TIMEOUT_MS) and a Redis that is away answers 503 SERVICE_UNAVAILABLE
 * instead of holding the request:
 *
 * - the queue's connection must be ready within the timeout (BullMQ waits for it for ever, and a
 *   Redis that refuses connections or accepts them without answering never makes it ready); the call
 *   itself is not started before, so a request refused here cannot go through later;
 * - each command then carries ioredis's `commandTimeout` (the API's queues are made with it) and fails
 *   at once while disconnected (`enableOfflineQueue: false`);
 * - ioredis's and BullMQ's errors for an unreachable Redis become SERVICE_UNAVAILABLE.
 */
import { SyncError } from '../domain/errors.js';
import { DEFAULT_SETTINGS } from '../domain/settings.js';
import { isRedisUnavailable } from '../queues/connection.js';

export const DEFAULT_SERVICE_TIMEOUT_MS = DEFAULT_SETTINGS.M365SYNC_API_SERVICE_TIMEOUT_MS;

/** Something that connects to Redis: a BullMQ Queue. */
export interface RedisUser {
  waitUntilReady(): Promise<unknown>;
}

export function queueUnavailable(timeoutMs: number, cause?: unknown): SyncError {
  return new SyncError(
    'SERVICE_UNAVAILABLE',
    `The job queue (Redis) does not answer${cause ? '' : ` within ${timeoutMs} ms`}: try again once GET /readyz answers 200.`,
    cause === undefined ? {} : { cause },
  );
}

/** Resolves with `promise`, or rejects with `onTimeout()` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function queueCall<T>(queue: RedisUser, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  try {
    await within(queue.waitUntilReady(), timeoutMs, () => queueUnavailable(timeoutMs));
    return await call();
  } catch (error) {
    if (isRedisUnavailable(error)) throw queueUnavailable(timeoutMs, error);
    throw error;
  }
}
