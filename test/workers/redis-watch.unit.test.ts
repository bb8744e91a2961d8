import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchRedis } from '../../workers/redis-watch.js';
import { quietLogger } from './support/harness.js';

describe("the worker's Redis watch", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  /** A Redis that answers while `up`, and whose pings hang (a cut network) while not. */
  function redis() {
    const state = { up: true, pings: 0 };
    const client = {
      ping: () => {
        state.pings++;
        return state.up ? Promise.resolve('PONG') : new Promise(() => {});
      },
    };
    return { state, client, ping: (c: typeof client) => c.ping() };
  }

  /** A watch of `r` that calls `onSilent` after 500 ms without an answer, pinging every 100 ms. */
  const watchOf = (r: ReturnType<typeof redis>, onSilent: () => void) =>
    watchRedis({ ping: r.ping, everyMs: 100, silentLimitMs: 500, onSilent, logger: quietLogger });

  it('stays quiet while Redis answers', async () => {
    const r = redis();
    const onSilent = vi.fn();
    const watch = watchOf(r, onSilent);
    watch.attach(r.client);
    await vi.advanceTimersByTimeAsync(5000);
    expect(onSilent).not.toHaveBeenCalled();
    watch.stop();
  });

  it('counts an answer heard elsewhere (a job fetched) as Redis answering', async () => {
    const r = redis();
    r.state.up = false;
    const onSilent = vi.fn();
    const watch = watchOf(r, onSilent);
    watch.attach(r.client);
    await vi.advanceTimersByTimeAsync(400);
    watch.answered();
    await vi.advanceTimersByTimeAsync(400);
    expect(onSilent).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    watch.stop();
  });

  it('tells once after a silence of the limit; again after an answer and a new silence', async () => {
    const r = redis();
    const onSilent = vi.fn();
    const watch = watchOf(r, onSilent);
    watch.attach(r.client);
    await vi.advanceTimersByTimeAsync(300);
    r.state.up = false;
    await vi.advanceTimersByTimeAsync(350);
    expect(onSilent).not.toHaveBeenCalled();
    // Last answer at 300 ms, limit 500 ms: told at 800 ms.
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    // Pings go on while the earlier ones hang (a connection lost in a failover holds its own).
    const pings = r.state.pings;
    await vi.advanceTimersByTimeAsync(2000);
    expect(r.state.pings).toBeGreaterThanOrEqual(pings + 19);
    expect(onSilent).toHaveBeenCalledTimes(1);

    // Redis answers again, then falls silent again: told a second time.
    r.state.up = true;
    await vi.advanceTimersByTimeAsync(200);
    r.state.up = false;
    await vi.advanceTimersByTimeAsync(700);
    expect(onSilent).toHaveBeenCalledTimes(2);
    watch.stop();
  });

  it('pings nothing and tells nothing before its connection is attached; counts the silence from then', async () => {
    const r = redis();
    r.state.up = false;
    const onSilent = vi.fn();
    const watch = watchOf(r, onSilent);
    await vi.advanceTimersByTimeAsync(2000);
    expect(r.state.pings).toBe(0);
    expect(onSilent).not.toHaveBeenCalled();
    watch.attach(r.client);
    await vi.advanceTimersByTimeAsync(400);
    expect(r.state.pings).toBeGreaterThan(0);
    expect(onSilent).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    watch.stop();
  });
});
