import { describe, expect, it } from 'vitest';
import { ignoreBecause, type DebugLogger } from '../../domain/ignored-failure.js';

function recorder(): DebugLogger & { lines: { details: object; message: string }[] } {
  const lines: { details: object; message: string }[] = [];
  return { lines, debug: (details, message) => void lines.push({ details, message }) };
}

describe('ignoreBecause', () => {
  it('swallows the failure: the promise resolves to undefined, as .catch(() => undefined) did', async () => {
    await expect(Promise.reject(new Error('gone')).catch(ignoreBecause('it does not matter'))).resolves.toBe(
      undefined,
    );
  });

  it('keeps a success as it was', async () => {
    await expect(Promise.resolve(7).catch(ignoreBecause('it does not matter'))).resolves.toBe(7);
  });

  it('logs at debug why, with the error message only', async () => {
    const log = recorder();
    const error = Object.assign(new Error('Redis away'), { command: { args: ['secret'] } });
    await Promise.reject(error).catch(ignoreBecause('the lease lapses by itself', log));
    expect(log.lines).toEqual([
      {
        details: { err: { message: 'Redis away' }, because: 'the lease lapses by itself' },
        message: 'failure ignored',
      },
    ]);
  });

  it('logs a thrown non-error as text', async () => {
    const log = recorder();
    await Promise.reject('plain').catch(ignoreBecause('why', log));
    expect(log.lines[0]?.details).toEqual({ err: { message: 'plain' }, because: 'why' });
  });
});
