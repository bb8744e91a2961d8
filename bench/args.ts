/**
 * The command-line options of a benchmark script: `--name value` options and `--name` flags, every
 * one declared, so a mistyped option fails at once instead of running the wrong benchmark for twenty
 * minutes. (Not node's `parseArgs`: `--worker-node-flags "--max-semi-space-size=32"` passes a value
 * that starts with `--`, which it refuses.)
 */
export interface BenchArgs {
  /** Whether the flag `--name` was given. */
  flag(name: string): boolean;
  /** The value after `--name`, or the fallback. */
  option(name: string, fallback: string): string;
}

/** Each option's kind: a flag stands alone, a value option takes the next argument. */
export type BenchOptions = Record<string, 'flag' | 'value'>;

export function benchArgs(script: string, known: BenchOptions, args = process.argv.slice(2)): BenchArgs {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const list = Object.keys(known)
    .map((k) => `--${k}`)
    .join(' ');
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.replace(/^--/, '');
    const kind = args[i]!.startsWith('--') ? known[name] : undefined;
    if (!kind) throw new Error(`${script}: unknown option ${args[i]} (known: ${list})`);
    if (kind === 'flag') flags.add(name);
    else if (i + 1 < args.length) values.set(name, args[++i]!);
    else throw new Error(`${script}: --${name} needs a value`);
  }
  return {
    flag: (name) => flags.has(name),
    option: (name, fallback) => values.get(name) || fallback,
  };
}
