import { describe, expect, it } from 'vitest';
import { benchArgs } from '../../bench/args.js';

const KNOWN = { quick: 'flag', runs: 'value', 'worker-node-flags': 'value' } as const;

describe("a benchmark's options", () => {
  it('reads flags and values, a value that starts with -- included', () => {
    const args = benchArgs('bench/x.ts', KNOWN, [
      '--quick',
      '--worker-node-flags',
      '--max-semi-space-size=32',
      '--runs',
      '2',
    ]);
    expect(args.flag('quick')).toBe(true);
    expect(args.option('runs', '3')).toBe('2');
    expect(args.option('worker-node-flags', '')).toBe('--max-semi-space-size=32');
  });

  it('falls back when an option is not given', () => {
    const args = benchArgs('bench/x.ts', KNOWN, []);
    expect(args.flag('quick')).toBe(false);
    expect(args.option('runs', '3')).toBe('3');
  });

  it('refuses a mistyped option, naming it and the known ones, and a value option with no value', () => {
    expect(() => benchArgs('bench/x.ts', KNOWN, ['--rusn', '2'])).toThrow(
      'bench/x.ts: unknown option --rusn (known: --quick --runs --worker-node-flags)',
    );
    expect(() => benchArgs('bench/x.ts', KNOWN, ['2'])).toThrow('unknown option 2');
    expect(() => benchArgs('bench/x.ts', KNOWN, ['--runs'])).toThrow('--runs needs a value');
  });
});
