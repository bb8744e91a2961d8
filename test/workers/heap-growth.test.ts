/**
 * A worker's heap grows only a set fraction past its live data (workers/heap-growth.ts): the limit,
 * set once the process runs, changes how far V8 lets the heap grow, measured in child processes
 * running the same allocation pattern with and without it. An integration test: two child processes
 * that each fill a heap take seconds (the setting's checks: heap-growth.unit.test.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const child = new URL('./support/heap-growth-child.ts', import.meta.url).pathname;

async function maxHeapUsed(percent: number): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, String(percent)]);
  return (JSON.parse(stdout) as { maxUsed: number }).maxUsed;
}

describe('limitHeapGrowth', () => {
  it('keeps the heap in use well below what V8 allows by default', async () => {
    const [v8Default, limited] = await Promise.all([maxHeapUsed(0), maxHeapUsed(20)]);
    // Measured here: about 176 MB by default, 112 MB with 20 %.
    expect(limited).toBeLessThan(v8Default * 0.8);
  }, 60_000);
});
