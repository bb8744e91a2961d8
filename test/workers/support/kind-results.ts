/** A kind's result as a processor returns it, for tests that end a run one way or another. */
import type { KindResult } from '../../../domain/sync-run.js';

/** A kind that succeeded, having created `created` objects. */
export const succeededKind = (created = 1): KindResult => ({
  status: 'succeeded',
  created,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  durationMs: 1,
});

/** A kind that failed with the error `code` (its message: "<code> in the test"). */
export const failedKind = (code: string): KindResult => ({
  ...succeededKind(0),
  status: 'failed',
  error: { code, message: `${code} in the test` },
});
