import { describe, expect, it } from 'vitest';
import { withRetries, type RetryDecision } from '../../connectors/retry.js';

class Fault extends Error {
  constructor(readonly decision: RetryDecision) {
    super(typeof decision === 'string' ? decision : `wait ${decision.waitMs}`);
  }
}

/** Fails with the given faults in order, then answers 'ok'; records when each attempt started. */
function scripted(faults: RetryDecision[]) {
  const starts: number[] = [];
  const numbers: number[] = [];
  const run = async (n: number) => {
    starts.push(performance.now());
    numbers.push(n);
    const next = faults.shift();
    if (next !== undefined) throw new Fault(next);
    return 'ok';
  };
  return { run, starts, numbers };
}

const classify = (error: unknown) => (error instanceof Fault ? error.decision : 'stop');
const policy = { attempts: 4, baseDelayMs: 40, maxDelayMs: 1000, classify };

describe('the retry layer (p-retry)', () => {
  it('backs off exponentially, each wait at least half of its step', async () => {
    const { run, starts, numbers } = scripted(['backoff', 'backoff', 'backoff']);
    const waited: number[] = [];
    expect(await withRetries(run, { ...policy, onWaited: ({ waitedMs }) => waited.push(waitedMs) })).toBe(
      'ok',
    );
    expect(numbers).toEqual([1, 2, 3, 4]);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // Steps of 40, 80, 160 ms: waits of 20–40, 40–80, 80–160 (timers may fire a hair early).
    expect(gaps[0]).toBeGreaterThanOrEqual(20 - 2);
    expect(gaps[1]).toBeGreaterThanOrEqual(40 - 2);
    expect(gaps[2]).toBeGreaterThanOrEqual(80 - 2);
    expect(waited).toHaveLength(3);
  });

  it('gives up after the attempts, with the error the caller makes of the last one', async () => {
    const { run, numbers } = scripted(['backoff', 'backoff', 'backoff', 'backoff', 'backoff']);
    await expect(withRetries(run, { ...policy, baseDelayMs: 2 })).rejects.toThrow('backoff');
    expect(numbers).toEqual([1, 2, 3, 4]);
  });

  it('waits what the server said, and does not count a free retry', async () => {
    const { run, starts, numbers } = scripted([{ waitMs: 120 }, 'free', 'free', 'backoff']);
    const reasons: string[] = [];
    expect(
      await withRetries(run, { ...policy, attempts: 3, onWaited: ({ reason }) => reasons.push(reason) }),
    ).toBe('ok');
    expect(numbers).toEqual([1, 2, 2, 2, 3]);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(120 - 2);
    expect(reasons).toEqual(['server', 'backoff']);
  });

  it('stops at once on an error it must not retry', async () => {
    const { run, numbers } = scripted(['stop']);
    await expect(withRetries(run, policy)).rejects.toThrow('stop');
    expect(numbers).toEqual([1]);
  });

  it('ends a wait at once when the caller aborts', async () => {
    const controller = new AbortController();
    const { run, numbers } = scripted([{ waitMs: 30_000 }]);
    const started = performance.now();
    // Abort right after the retry layer announced its 30 s wait (on the next turn: the wait has begun).
    const pending = withRetries(run, {
      ...policy,
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort(new Error('cancelled by the caller'))),
    });
    await expect(pending).rejects.toThrow('cancelled by the caller');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(numbers).toEqual([1]);
  });
});
