/**
 * The lease keeper on its own, with time under the test's control: its ticks are fake timers and its
 * lapse check reads an injected clock, so "a tick later" and "the lease is about to lapse" are steps
 * the test takes, not sleeps. The stores are the two calls the keeper makes, scripted per test.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Lease } from '../../connectors/mongo/index.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { CANCEL_REQUESTED, keepLease, LEASE_LAPSING, LEASE_LOST } from '../../workers/lease-keeper.js';
import { TestClock } from '../support/clock.js';

type CancelRequest = NonNullable<SyncRun['cancelRequested']>;

const TTL_MS = 6000;
const TICK_MS = 1000;

/** Lets the keeper's promise callbacks (renewal, cancel read) run after a tick. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('the lease keeper', () => {
  let clock: TestClock;
  beforeEach(() => {
    // Only the timers are fake: the keeper reads the time from the injected clock.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    clock = new TestClock(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Moves the clock and the timers on together, one tick at a time. */
  async function ticks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      clock.advance(TICK_MS);
      await vi.advanceTimersByTimeAsync(TICK_MS);
      await settle();
    }
  }

  function keeper(options: {
    renew?: (lease: Lease, ttlMs: number) => Promise<Lease | null>;
    cancelRequest?: (runId: string) => Promise<CancelRequest | undefined>;
    signal?: AbortSignal;
  }) {
    const lease: Lease = {
      tenantId: 't1',
      owner: 'w1',
      token: 7,
      expiresAt: new Date(clock.now() + TTL_MS),
    };
    const stops: string[] = [];
    const renewals: Lease[] = [];
    const cancelReads: string[] = [];
    const renewedNow = async (l: Lease, ttlMs: number) => ({
      ...l,
      expiresAt: new Date(clock.now() + ttlMs),
    });
    const keeping = keepLease({
      leases: {
        renew: (l, ttlMs) => {
          renewals.push(l);
          return (options.renew ?? renewedNow)(l, ttlMs);
        },
      },
      runs: {
        cancelRequest: (runId) => {
          cancelReads.push(runId);
          return (options.cancelRequest ?? (async () => undefined))(runId);
        },
      },
      lease,
      ttlMs: TTL_MS,
      tickMs: TICK_MS,
      signal: options.signal ?? new AbortController().signal,
      stop: (reason) => stops.push(reason),
      logger: pino({ level: 'silent' }),
      clock,
    });
    return { keeping, lease, stops, renewals, cancelReads };
  }

  it('renews the lease at every tick and hands back the last renewal when stopped', async () => {
    const { keeping, lease, stops, renewals } = keeper({});
    await ticks(1);
    expect(renewals).toHaveLength(1);
    await ticks(10); // far past the first lease's ttl: renewed all along, never lapsing
    expect(renewals).toHaveLength(11);
    expect(stops).toEqual([]);
    const last = keeping.stop();
    expect(last!.token).toBe(lease.token);
    expect(last!.expiresAt.getTime()).toBe(clock.now() + TTL_MS);
    await ticks(3);
    expect(renewals).toHaveLength(11); // stopped: no more ticks
  });

  it('stops the run when a newer run took the lease', async () => {
    const { keeping, stops } = keeper({ renew: async () => null });
    await ticks(1);
    expect(stops).toEqual([LEASE_LOST]);
    expect(keeping.leaseLost).toBe(true);
    await ticks(3);
    expect(stops).toEqual([LEASE_LOST]); // nothing to renew any more
    expect(keeping.stop()).toBeNull();
  });

  it('retries failed renewals, and stops the run when less than a tick is left before the lease lapses', async () => {
    const { keeping, stops, renewals } = keeper({
      renew: async () => {
        throw new Error('MongoDB refused the connection');
      },
    });
    await ticks(4); // 4 s of 6: renewal tried at each tick
    expect(renewals).toHaveLength(4);
    expect(stops).toEqual([]);
    await ticks(1); // 5 s: one tick left before the lease lapses
    expect(stops).toEqual([LEASE_LAPSING]);
    expect(renewals).toHaveLength(4);
    expect(keeping.leaseLost).toBe(false);
    expect(keeping.stop()).not.toBeNull(); // not lost: released as usual
  });

  it('sends one renewal at a time: a hanging renewal is not piled on, and the lease lapses', async () => {
    const { keeping, stops, renewals } = keeper({ renew: () => new Promise<never>(() => {}) });
    await ticks(4);
    expect(renewals).toHaveLength(1);
    expect(stops).toEqual([]);
    await ticks(1);
    expect(stops).toEqual([LEASE_LAPSING]);
    keeping.stop();
  });

  it("reads an operator's cancel request once told the run's id, and stops the run", async () => {
    const record: { cancelRequested?: CancelRequest } = {};
    const { keeping, stops, cancelReads } = keeper({ cancelRequest: async () => record.cancelRequested });
    await ticks(2);
    expect(cancelReads).toEqual([]); // the record is not claimed yet
    keeping.watchCancel('run-1');
    await ticks(1);
    expect(cancelReads).toEqual(['run-1']);
    expect(stops).toEqual([]);
    record.cancelRequested = { by: 'alice', at: new Date(clock.now()) };
    await ticks(1);
    expect(stops).toEqual([`${CANCEL_REQUESTED} by alice`]);
    expect(keeping.cancelledBy).toBe('alice');
    keeping.stop();
  });

  it('ignores a cancel request read after the run already stopped', async () => {
    const controller = new AbortController();
    const { keeping, stops } = keeper({
      cancelRequest: async () => ({ by: 'alice', at: new Date(clock.now()) }),
      signal: controller.signal,
    });
    keeping.watchCancel('run-1');
    controller.abort(new Error('the run ended'));
    await ticks(2);
    expect(stops).toEqual([]);
    expect(keeping.cancelledBy).toBeUndefined();
    keeping.stop();
  });
});
