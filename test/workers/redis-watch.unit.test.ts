import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchRedis } from '../../workers/redis-watch.js';
import { quietLogger } from './support/harness.js';

describe("the worker's Redis watch", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  /**
   * A watch (pinging every 100 ms, told after 500 ms of silence) of a Redis that answers while
   * `state.up`, and whose pings hang (a cut network) while not.
   */
  function watched({ up = true } = {}) {
    const state = { up, pings: 0 };
    const ping = () => {
      state.pings++;
      return state.up ? Promise.resolve('PONG') : new Promise(() => {});
    };
    const onSilent = vi.fn();
    const watch = watchRedis({ ping, everyMs: 100, silentLimitMs: 500, onSilent, logger: quietLogger });
    return { state, onSilent, watch };
  }

  it('stays quiet while Redis answers', async () => {
    const { onSilent, watch } = watched();
    await vi.advanceTimersByTimeAsync(5000);
    expect(onSilent).not.toHaveBeenCalled();
    watch.stop();
  });

  it('counts an answer heard elsewhere (a job fetched) as Redis answering', async () => {
    const { onSilent, watch } = watched({ up: false });
    await vi.advanceTimersByTimeAsync(400);
    watch.answered();
    await vi.advanceTimersByTimeAsync(400);
    expect(onSilent).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    watch.stop();
  });

  it('tells once after a silence of the limit; again after an answer and a new silence', async () => {
    const { state, onSilent, watch } = watched();
    await vi.advanceTimersByTimeAsync(300);
    state.up = false;
    await vi.advanceTimersByTimeAsync(350);
    expect(onSilent).not.toHaveBeenCalled();
    // Last answer at 300 ms, limit 500 ms: told at 800 ms.
    await vi.advanceTimersByTimeAsync(200);
    expect(onSilent).toHaveBeenCalledTimes(1);
    // Pings go on while the earlier ones hang (a connection lost in a failover holds its own).
    const pings = state.pings;
    await vi.advanceTimersByTimeAsync(2000);
    expect(state.pings).toBeGreaterThanOrEqual(pings + 19);
    expect(onSilent).toHaveBeenCalledTimes(1);

    // Redis answers again, then falls silent again: told a second time.
    state.up = true;
    await vi.advanceTimersByTimeAsync(200);
    state.up = false;
    await vi.advanceTimersByTimeAsync(700);
    expect(onSilent).toHaveBeenCalledTimes(2);
    watch.stop();
  });
});
