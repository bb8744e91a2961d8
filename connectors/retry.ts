/**
 * The one retry layer of the connectors (Graph requests, WinRM quota waits), on p-retry.
 *
 * Each failed attempt is classified by the caller:
 * - `backoff`: try again after p-retry's exponential backoff (factor 2 from half the base step, each
 *   wait randomised ×1–2, capped at `maxDelayMs`: waits spread but never vanish);
 * - `{ waitMs }`: the server said how long (Retry-After): wait exactly that, then try again;
 * - `free`: try again at once, not counted as an attempt (a renewed token);
 * - `stop`: fail now with this error.
 * After `attempts` counted tries, `exhausted` turns the last error into the one thrown. An abort of
 * `signal` ends any wait at once (with the signal's reason).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';

export type RetryDecision = 'backoff' | 'free' | 'stop' | { waitMs: number };

export interface RetryPolicy {
  /** Tries in all, the first included (free retries not counted). */
  attempts: number;
  /** The first backoff step: waits of about half to all of it, doubling each time. */
  baseDelayMs: number;
  /** The largest wait of a backoff. */
  maxDelayMs: number;
}

export interface RetryOptions extends RetryPolicy {
  signal?: AbortSignal;
  classify(error: unknown, attempt: number): RetryDecision;
  /** The error thrown when the attempts ran out (default: the last error). */
  exhausted?(error: unknown, attempts: number): unknown;
  /** Before each wait (`waitMs` only when the server said how long). */
  onRetry?(info: { error: unknown; attempt: number; reason: 'backoff' | 'server'; waitMs?: number }): void;
  /** After each wait, how long it really was. */
  onWaited?(info: { reason: 'backoff' | 'server'; waitedMs: number }): void;
}

/** Runs `attempt` (given its counted number, from 1) until it succeeds or the policy says stop. */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  let counted = 0;
  let decision: RetryDecision = 'backoff';
  let waitStarted: number | undefined;
  return pRetry(
    async () => {
      if (waitStarted !== undefined && decision !== 'free') {
        const reason = decision === 'backoff' ? 'backoff' : 'server';
        options.onWaited?.({ reason, waitedMs: performance.now() - waitStarted });
      }
      waitStarted = undefined;
      counted++;
      return attempt(counted);
    },
    {
      retries: Number.POSITIVE_INFINITY, // counted here: free retries and server waits do not step p-retry
      factor: 2,
      minTimeout: options.baseDelayMs / 2,
      maxTimeout: options.maxDelayMs,
      randomize: true,
      ...(options.signal ? { signal: options.signal } : {}),
      onFailedAttempt: async ({ error }) => {
        decision = options.signal?.aborted ? 'stop' : options.classify(error, counted);
        if (decision === 'stop') throw error;
        if (decision === 'free') {
          counted--;
          return;
        }
        if (counted >= options.attempts) throw options.exhausted ? options.exhausted(error, counted) : error;
        if (decision === 'backoff') {
          options.onRetry?.({ error, attempt: counted, reason: 'backoff' });
          waitStarted = performance.now();
          return;
        }
        options.onRetry?.({ error, attempt: counted, reason: 'server', waitMs: decision.waitMs });
        waitStarted = performance.now();
        // Like p-retry's own waits, an abort rejects with the signal's reason.
        await sleep(decision.waitMs, undefined, options.signal ? { signal: options.signal } : {}).catch(
          (error: unknown) => {
            throw options.signal?.aborted ? options.signal.reason : error;
          },
        );
      },
      // Only a backoff moves p-retry's exponent and waits; a server wait was waited above.
      shouldConsumeRetry: () => decision === 'backoff',
    },
  );
}

/** `ms` jittered ±50 % (0.5 to 1.5 times), for a delay that is not a retry loop here (a job handed back to its queue). */
export function jittered(ms: number): number {
  return Math.round(ms * (0.5 + Math.random()));
}
