/**
 * Exit codes (README, "Exit codes"): 0 done (a waited-for sync succeeded), 1 failed (an error, or a
 * sync that failed or was cancelled), 2 bad input (nothing stored), 3 a sync ended partial, 4 a sync
 * ended needs_review. With several syncs (`sync --all --wait`) the worst one decides.
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, partial: 3, needsReview: 4 } as const;

/** The exit code for a run's final status. */
export function exitForStatus(status: string): number {
  if (status === 'succeeded') return EXIT.ok;
  if (status === 'partial') return EXIT.partial;
  if (status === 'needs_review') return EXIT.needsReview;
  return EXIT.failed;
}

/** Of several exit codes, the worst: failed, then needs_review, then partial, then ok. */
export function worstExit(codes: number[]): number {
  const rank = [EXIT.ok, EXIT.partial, EXIT.needsReview, EXIT.invalid, EXIT.failed];
  return codes.reduce(
    (worst, c) => (rank.indexOf(c as never) > rank.indexOf(worst as never) ? c : worst),
    EXIT.ok,
  );
}
