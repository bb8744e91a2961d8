/** The heap-growth setting's own checks (its effect on a process: heap-growth.test.ts). */
import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from '../../workers/heap-growth.js';

describe('limitHeapGrowth', () => {
  it('refuses a growth that is not a whole percent', () => {
    expect(() => limitHeapGrowth(-1)).toThrow(/whole percent/);
    expect(() => limitHeapGrowth(12.5)).toThrow(/whole percent/);
  });
});
