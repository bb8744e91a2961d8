/**
 * Teams users matched to Entra users during a full pull (domain/teams-matching.ts). Each page of
 * Teams users is annotated (`entraUserId` / `noEntraMatch`) before it is written, from an in-memory
 * look-up of the page's ids in the tenant's users:
 *
 * - When this run pulls Graph users too, the first Teams page waits until that kind has settled
 *   (bounded by `waitMs`), so the match uses today's users, not yesterday's. If the Graph users
 *   completed (succeeded, or held back by delete protection), only users this run saw count as a
 *   match; if they failed (or the wait ran out), the users stored count: a Graph failure must not
 *   flag every Teams user.
 * - When the run does not pull Graph users (`--kinds voice`), the stored users count.
 *
 * The Teams script streams while it waits: PowerShell simply blocks on its output until we read on.
 * With the tenant option `skip`, unmatched Teams users are left out (their stored copies then leave
 * through the sweep, under delete protection); the counts go into the kind's run record.
 */
import type { StoredKeys } from '../../connectors/mongo/index.js';
import {
  addMatchCounts,
  matchTeamsUsers,
  teamsUserIds,
  type UnmatchedTeamsUsers,
} from '../../domain/teams-matching.js';
import type { KindRun } from './kind-run.js';

export type GraphUsersOutcome = 'completed' | 'failed' | 'absent';

export function attachTeamsMatching(
  run: KindRun,
  o: {
    /** Whether this run saw the Graph user (written or confirmed). */
    seenUser: (externalId: string) => Promise<boolean>;
    /** The tenant's stored users, read once if needed. */
    storedUsers: () => Promise<StoredKeys>;
    graphUsers: Promise<GraphUsersOutcome>;
    waitMs: number;
    option: UnmatchedTeamsUsers;
    signal: AbortSignal;
  },
): void {
  let outcome: Promise<GraphUsersOutcome> | undefined;
  const settled = () =>
    (outcome ??= Promise.race([
      o.graphUsers,
      new Promise<GraphUsersOutcome>((resolve) => {
        // A run stopped before its first Teams page waits no more than one stopped while it waits.
        if (o.signal.aborted) return resolve('failed');
        const timer = setTimeout(resolve, o.waitMs, 'failed');
        timer.unref();
        o.signal.addEventListener('abort', () => resolve('failed'), { once: true });
      }),
    ]));
  let storedUsers: Promise<StoredKeys> | undefined;
  let totals = { matched: 0, unmatched: 0, skipped: 0 };
  run.annotations.entraMatch = totals;
  run.transform = async (page) => {
    const graph = await settled();
    const ids = teamsUserIds(page as { Identity?: unknown }[]);
    // In memory: this run's users if they completed, else the stored ones (read once).
    const found = new Set<string>();
    if (graph === 'completed') {
      for (const id of ids) if (await o.seenUser(id)) found.add(id.toLowerCase());
    } else if (ids.length > 0) {
      const stored = (storedUsers ??= o.storedUsers());
      for (const id of ids) if ((await stored).find(id) !== undefined) found.add(id.toLowerCase());
    }
    const result = matchTeamsUsers(page as Record<string, unknown>[], found, o.option);
    totals = addMatchCounts(totals, result);
    run.annotations.entraMatch = totals;
    return result.documents;
  };
}
