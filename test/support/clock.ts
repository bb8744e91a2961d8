/**
 * A clock a test moves by hand: a lease "expires" when the test says so, not after a sleep. Pass it
 * where a unit takes a `clock` (leases, the lease keeper, the run reaper).
 */
import type { Clock } from '../../domain/clock.js';

export class TestClock implements Clock {
  private ms: number;

  constructor(startMs = Date.now()) {
    this.ms = startMs;
  }

  now(): number {
    return this.ms;
  }

  /** Moves the time forward by `ms`. */
  advance(ms: number): void {
    this.ms += ms;
  }
}
