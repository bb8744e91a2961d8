/**
 * Property-based fuzzing with fast-check: a fixed number of cases per property and a recorded seed.
 * The seed is printed at the start of each file; `FUZZ_SEED=<seed>` replays exactly that run, and
 * `FUZZ_RUNS=<n>` scales every property's case count (e.g. a long soak run).
 */
import fc from 'fast-check';

const fromEnv = process.env.FUZZ_SEED;
if (fromEnv !== undefined && !/^-?\d+$/.test(fromEnv)) {
  throw new Error(`FUZZ_SEED must be an integer, not ${JSON.stringify(fromEnv)}`);
}
export const FUZZ_SEED =
  fromEnv === undefined ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : Number(fromEnv);
const scale = Number(process.env.FUZZ_RUNS ?? 1) || 1;

let printed = false;

/** fast-check parameters for one property: the file's seed, `runs` cases (times FUZZ_RUNS). */
export function fuzz(runs: number): fc.Parameters<unknown> {
  if (!printed) {
    printed = true;
    console.log(`fuzz seed ${FUZZ_SEED} (replay with FUZZ_SEED=${FUZZ_SEED})`);
  }
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * scale)), endOnFailure: true };
}

/** CPU time (user + system, ms) spent by this process in `fn`: not wall time, so a busy machine does not count. */
export function cpuMs<T>(fn: () => T): { value: T; ms: number } {
  const before = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(before);
  return { value, ms: (used.user + used.system) / 1000 };
}

/** Text that looks like the input a parser expects, so the fuzzer gets past its first token. */
export function tokenSoup(tokens: readonly string[], maxLength = 400): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 6 }), fc.constantFrom(' ', '  ', '\t')),
      {
        maxLength,
      },
    )
    .map((parts) => parts.join(''));
}
