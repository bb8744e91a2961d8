/**
 * `closeAtMost`: the parts of a worker process that hold no run (the trigger worker, the webhooks)
 * get a bounded close, so a BullMQ close that waits for ever after a Redis Cluster failover cannot keep
 * the process past its termination grace (test/cluster checks the whole process).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeAtMost } from '../../workers/worker.js';

function capturedLogger() {
  const lines: { what?: string; ms?: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('closeAtMost', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('returns when the close does, saying nothing', async () => {
    const { logger, lines } = capturedLogger();
    await closeAtMost('webhooks', () => Promise.resolve(), 5000, logger);
    expect(lines).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up on a close that never ends after its time, and says which part', async () => {
    const { logger, lines } = capturedLogger();
    let done = false;
    const closing = closeAtMost('trigger worker', () => new Promise(() => undefined), 5000, logger).then(
      () => (done = true),
    );
    await vi.advanceTimersByTimeAsync(4999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(lines).toMatchObject([
      { what: 'trigger worker', ms: 5000, msg: expect.stringMatching(/did not close in time/) },
    ]);
  });

  it('goes on after a close that fails, naming it', async () => {
    const { logger, lines } = capturedLogger();
    await closeAtMost('webhooks', () => Promise.reject(new Error('Connection is closed.')), 5000, logger);
    expect(lines).toMatchObject([{ what: 'webhooks', msg: expect.stringMatching(/could not close/) }]);
  });
});
