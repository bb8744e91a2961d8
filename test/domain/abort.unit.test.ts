import { describe, expect, it } from 'vitest';
import { untilAborted } from '../../domain/abort.js';

const never = () => new Promise<never>(() => undefined);

describe('untilAborted', () => {
  it('gives the work its own way when the signal stays quiet, or when there is none', async () => {
    await expect(untilAborted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error('boom')), undefined)).rejects.toThrow('boom');
  });

  it('rejects with the signal’s reason as soon as it aborts, while the work still hangs', async () => {
    const stop = new AbortController();
    const waiting = untilAborted(never(), stop.signal);
    const reason = new Error('the run was told to stop');
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it('rejects at once when the signal aborted before, and hands a late value to onLate', async () => {
    const stop = new AbortController();
    stop.abort(new Error('stopped'));
    let late: number | undefined;
    let grant!: (n: number) => void;
    const work = new Promise<number>((resolve) => (grant = resolve));
    await expect(untilAborted(work, stop.signal, (n) => (late = n))).rejects.toThrow('stopped');
    grant(1);
    await work;
    await Promise.resolve();
    expect(late).toBe(1);
  });

  it('hands a value that comes after the abort to onLate, and lets a late failure go', async () => {
    const stop = new AbortController();
    const taken: number[] = [];
    let grant!: (n: number) => void;
    const granted = new Promise<number>((resolve) => (grant = resolve));
    const waiting = untilAborted(granted, stop.signal, (n) => taken.push(n));
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    grant(1);
    await granted;
    await Promise.resolve();
    expect(taken).toEqual([1]);

    // A failure after the abort is nobody's to report: the wait ended with the signal's reason.
    let fail!: (error: Error) => void;
    const failing = new Promise<number>((_resolve, reject) => (fail = reject));
    const stop2 = new AbortController();
    const waiting2 = untilAborted(failing, stop2.signal);
    stop2.abort(new Error('first'));
    fail(new Error('late failure'));
    await expect(waiting2).rejects.toThrow('first');
  });
});
