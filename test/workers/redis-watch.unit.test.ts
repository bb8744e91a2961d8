import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchRedis } from '../../workers/redis-watch.js';
import { quietLogger } from './support/harness.js';

describe("the worker's Redis watch", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  /** A Redis that answers while `up`, and whose pings hang (a cut network) while not. */
  function redis() {
    const state = { up: true, pings: 0 };
    const ping = () => {
      state.pings++;
      return state.up ? Promise.resolve('PONG') : new Promise(() => {});
    };
    return { state, ping };
  }

  it('stays quiet while Redis answers', async () => {
    const { ping } = redis();
    const onSilent = vi.fn();
    const watch = watchRedis({ ping, everyMs: 100, silentLimitMs: 500, onSilent, logger: quietLogger });
    await vi.advanceTimersByTimeAsync(5000);
    expect(onSilent).not.toHaveBeenCalled();
    watch.stop();
  });

  it('tells once when Redis has been silent for the limit, and again after an answer and a new silence', async () => {
    const r = redis();
    const onSilent = vi.fn();
    const watch = watchRedis({
      ping: r.ping,
      everyMs: 100,
      silentLimitMs: 500,
      onSilent,
      logger: quietLogger,
    });
    await vi.advanceTimersByTimeAsync(300);
    r.state.up = false;
    await vi.advanceTimersByTimeAsync(350);
    expect(onSilent).not.toHaveBeenCalled();
    const pingsBefore = r.state.pings;
    // Last answer at 300 ms, limit 500 ms: told at 800 ms; the ping sent at 400 ms still hangs.
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    // The hung ping is the only one in flight until it has hung for the whole limit.
    expect(r.state.pings).toBe(pingsBefore);
    await vi.advanceTimersByTimeAsync(2000);
    expect(onSilent).toHaveBeenCalledTimes(1);
    expect(r.state.pings).toBeGreaterThan(pingsBefore);

    // Redis answers again (a new ping gets through), then falls silent again: told a second time.
    r.state.up = true;
    await vi.advanceTimersByTimeAsync(600);
    r.state.up = false;
    await vi.advanceTimersByTimeAsync(1200);
    expect(onSilent).toHaveBeenCalledTimes(2);
    watch.stop();
  });
});
