/**
 * The lease keeper of one run: keeps the tenant's lease alive while the run goes on, and stops the
 * run (through the worker's `stop`) when it must not go on writing. Pulled out of the worker the way
 * BullMQ pulls its LockManager out of Worker: the worker starts one per run, tells it the run's id
 * once the record is claimed, and stops it at the end.
 *
 * At each tick (every `tickMs`, a sixth of the lease time in the worker):
 * - when less than one tick is left before the lease expires (our clock, taken before the renewal
 *   was sent) with no successful renewal, the run is stopped (`lease-lapsing`): MongoDB hangs or
 *   refuses connections, and a run must never go on writing on a lease it may have lost;
 * - an operator's cancel request on the run's record is read (operations/cancel-run.ts); the record is
 *   the channel because it reaches whichever worker holds the run, and the keeper already ticks;
 * - the lease is renewed (one renewal at a time); a renewal refused because a newer lease exists stops
 *   the run (`lease-lost`). A failed renewal (MongoDB away) is tried again at the next tick.
 */
import type { Logger } from 'pino';
import type { Lease, Stores } from '../connectors/mongo/index.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { runErrorOf } from '../domain/sync-run.js';

export const LEASE_LOST = 'lease-lost';
export const LEASE_LAPSING = 'lease-lapsing';
export const CANCEL_REQUESTED = 'cancel requested';

export interface LeaseKeeperOptions {
  leases: Pick<Stores['leases'], 'renew'>;
  runs: Pick<Stores['runs'], 'cancelRequest'>;
  /** The lease the run acquired. */
  lease: Lease;
  ttlMs: number;
  tickMs: number;
  /** The run's signal: a cancel request read after it aborted changes nothing. */
  signal: AbortSignal;
  /** Stops the run with a reason (`lease-lost`, `lease-lapsing`, `cancel requested by …`). */
  stop(reason: string): void;
  /** Bound with the run's id, job and tenant (its lines name none of them again). */
  logger: Logger;
  /**
   * Where the lapse check reads the time; the ticks are `setInterval`, so fake timers drive them.
   * @default systemClock
   */
  clock?: Clock;
}

export interface LeaseKeeper {
  /** From now on, read an operator's cancel request on this run's record at each tick. */
  watchCancel(runId: string): void;
  /** Who asked to cancel the run, once the keeper has read the request (it stopped the run). */
  readonly cancelledBy: string | undefined;
  /** A newer run took the lease (the keeper stopped the run). */
  readonly leaseLost: boolean;
  /** Stops ticking; returns the lease as last renewed, to release (null once lost). */
  stop(): Lease | null;
}

export function keepLease(options: LeaseKeeperOptions): LeaseKeeper {
  const log = options.logger;
  const clock = options.clock ?? systemClock;
  let lease: Lease | null = options.lease;
  let leaseLost = false;
  let renewing = false;
  let runId: string | undefined;
  let cancelledBy: string | undefined;
  let readingCancel = false;

  const readCancelRequest = (id: string) => {
    if (readingCancel) return;
    readingCancel = true;
    options.runs
      .cancelRequest(id)
      .then(
        (request) => {
          if (!request || options.signal.aborted) return;
          cancelledBy = request.by;
          log.info({ by: request.by }, 'cancel requested; run stopping');
          options.stop(`${CANCEL_REQUESTED} by ${request.by}`);
        },
        (error: unknown) => log.warn({ err: runErrorOf(error) }, 'could not read cancel request; retrying'),
      )
      .finally(() => (readingCancel = false));
  };

  const timer = setInterval(() => {
    if (!lease) return;
    if (clock.now() >= lease.expiresAt.getTime() - options.tickMs) {
      log.warn('lease about to lapse without renewal; run cancelled');
      options.stop(LEASE_LAPSING);
      return;
    }
    if (runId) readCancelRequest(runId);
    if (renewing) return;
    renewing = true;
    options.leases
      .renew(lease, options.ttlMs)
      .then(
        (renewed) => {
          if (renewed) lease = renewed;
          else if (lease) {
            leaseLost = true;
            lease = null;
            options.stop(LEASE_LOST);
          }
        },
        (error: unknown) => log.warn({ err: runErrorOf(error) }, 'lease renewal failed; retrying'),
      )
      .finally(() => (renewing = false));
  }, options.tickMs);

  return {
    watchCancel: (id) => (runId = id),
    get cancelledBy() {
      return cancelledBy;
    },
    get leaseLost() {
      return leaseLost;
    },
    stop() {
      clearInterval(timer);
      return lease;
    },
  };
}
