/**
 * Why a run attempt ended, in the record's words: the reason the run was stopped wins over whatever
 * error its processor happened to throw on the way out (a cancelled run's last write is refused by its
 * fence; that refusal is not what the operator needs to read).
 */
import { runErrorOf, type RunError } from '../domain/sync-run.js';
import { LEASE_LAPSING } from './lease-keeper.js';

/** Redis stayed silent for half the job's lock (workers/redis-watch.ts): the lock may lapse any moment. */
export const REDIS_SILENT = 'redis-silent';

/** What stopped the run, as its lease keeper and its signal know it. */
export interface RunStop {
  /** A newer run took the tenant's lease. */
  leaseLost: boolean;
  /** Who asked to cancel the run (an operator or the API), once the keeper read the request. */
  cancelledBy: string | undefined;
  /** The reason the run's signal aborted with (`lease-lapsing`, `shutdown`, `lock-lost`, …), if it did. */
  abortReason: string | undefined;
}

export function runErrorFor(stop: RunStop, error: unknown): RunError {
  if (stop.leaseLost)
    return {
      code: 'LEASE_LOST',
      message: 'The run lost its tenant lease to a newer run and stopped writing.',
    };
  if (stop.cancelledBy !== undefined)
    return {
      code: 'CANCELLED',
      message: `Cancelled by ${stop.cancelledBy} while running; it stopped writing and swept nothing more.`,
    };
  if (stop.abortReason === LEASE_LAPSING)
    return {
      code: 'LEASE_LAPSING',
      message:
        'The run could not renew its tenant lease (MongoDB did not answer) and stopped before the lease lapsed; the job is tried again.',
    };
  if (stop.abortReason === REDIS_SILENT)
    return {
      code: 'LOCK_LAPSING',
      message:
        "The worker could not reach Redis to renew the job's lock; the run stopped and gave up the tenant's lease so another worker can run it.",
    };
  return runErrorOf(error);
}
