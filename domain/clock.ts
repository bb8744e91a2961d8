/**
 * Where time comes from. Leases, the leader lock, the lease keeper and a run's attempt read the time
 * through a `Clock`, so their tests move time forward instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
}

/** The real time. */
export const systemClock: Clock = { now: () => Date.now() };
