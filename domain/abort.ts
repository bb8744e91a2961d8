/**
 * Waiting no longer than a run wants to. A run's AbortSignal fires when the run is cancelled, when
 * its lease lapses or when Redis falls silent; a wait on Redis (the Graph limiter, the fleet's shell
 * slots, the shell ledger) may hang for as long as Redis is away, so such waits are raced with the
 * signal: the run gives up at once instead of after the stop margin.
 */
import { ignoreBecause } from './ignored-failure.js';

/**
 * `work`, or the signal's reason as soon as `signal` aborts first. `work` itself goes on (a promise
 * cannot be stopped): `onLate` gets its value if it settles after the abort, to undo what it took
 * (a slot granted after the run gave up, say); its failure then is ignored, as nobody waits for it.
 */
const NOBODY_WAITS = 'the run gave up this wait when its signal aborted; nobody waits for its outcome';

export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onLate?: (value: T) => void,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    void work.then(onLate, ignoreBecause(NOBODY_WAITS));
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) onLate?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) reject(error);
      },
    );
  });
}
