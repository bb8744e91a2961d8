/**
 * How many runs in a row each kind of one tenant has failed, read from its newest runs: the "a kind
 * fails for the same tenant night after night" signal (workers/cluster-metrics.ts exports it, and
 * deploy/alerts.yml alerts on it). Pure rules over run records; no store.
 *
 * A run counts once it has ended with a verdict on the kind: runs still queued or running, merged
 * requests, cancelled runs and failed attempts the queue will try again (`willRetry`) are passed over,
 * so one night's retries count as one night. A kind the run did not attempt, skipped or cancelled neither
 * counts nor breaks the streak; any other outcome of the kind ends it.
 */
import type { SyncRun } from './sync-run.js';

const NO_VERDICT = new Set<SyncRun['status']>(['queued', 'running', 'merged', 'cancelled']);

/** Consecutive failed runs per kind, newest first (`runs` newest first); kinds at 0 are left out. */
export function kindFailureStreaks(
  runs: readonly Pick<SyncRun, 'status' | 'kinds' | 'willRetry'>[],
): Map<string, number> {
  const streaks = new Map<string, number>();
  const ended = new Set<string>();
  for (const run of runs) {
    if (NO_VERDICT.has(run.status) || run.willRetry) continue;
    for (const [kind, result] of Object.entries(run.kinds ?? {})) {
      if (ended.has(kind) || result.status === 'skipped' || result.status === 'cancelled') continue;
      if (result.status === 'failed') streaks.set(kind, (streaks.get(kind) ?? 0) + 1);
      else ended.add(kind);
    }
  }
  return streaks;
}
