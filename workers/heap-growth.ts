/**
 * How far V8 lets a worker's heap grow past what its last full collection left live.
 *
 * A sync allocates fast (pages parsed, hashed, compared and dropped) and holds little: at the peak of
 * a 50,000-user re-sync the live heap is about 75 MB (a heap snapshot), yet V8's default growth
 * (up to four times the live heap between full collections) let the heap reach 190 MB and the worker's
 * RSS 300 MB. A fixed growth of 20 % keeps the peak near 200 MB for up to about 15 % more CPU in a
 * worker that is idle most of a run (bench/RESULTS.md). It is a growth factor, not a ceiling: a tenant whose
 * stored pictures need more memory still gets it (unlike `--max-old-space-size`).
 *
 * V8 reads this flag whenever it sets the next collection's limit, so setting it once the process
 * runs takes effect (Node keeps V8's flags writable after start for `v8.setFlagsFromString`).
 */
import { setFlagsFromString } from 'node:v8';

/** `percent` 0 leaves V8's own growth. */
export function limitHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0)
    throw new Error(`heap growth must be a whole percent ≥ 0, not ${percent}`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
