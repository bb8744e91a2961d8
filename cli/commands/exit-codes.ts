/**
 * Exit codes (README, "Exit codes", the one table of them): 0 done (a waited-for sync succeeded),
 * 1 failed (an error, or a sync that failed or was cancelled), 2 bad input (nothing stored), 3 a sync
 * ended partial, 4 a sync ended needs_review, 5 not found (the tenant, run, token… named does not
 * exist; error code NOT_FOUND), 6 `sync --wait` stopped at its --timeout while the run was still
 * queued or running (it goes on). With several syncs (`sync --all --wait`) the worst one decides.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  invalid: 2,
  partial: 3,
  needsReview: 4,
  notFound: 5,
  stillRunning: 6,
} as const;

/** The exit code for a run's final status; a run still queued or running when the wait ended: 6. */
export function exitForStatus(status: string): number {
  if (status === 'succeeded') return EXIT.ok;
  if (status === 'partial') return EXIT.partial;
  if (status === 'needs_review') return EXIT.needsReview;
  if (status === 'queued' || status === 'running') return EXIT.stillRunning;
  return EXIT.failed;
}

/** Of several exit codes, the worst: failed, then bad input, not found, still running, needs_review, partial, ok. */
export function worstExit(codes: number[]): number {
  const rank: number[] = [
    EXIT.ok,
    EXIT.partial,
    EXIT.needsReview,
    EXIT.stillRunning,
    EXIT.notFound,
    EXIT.invalid,
    EXIT.failed,
  ];
  return codes.reduce((worst, c) => (rank.indexOf(c) > rank.indexOf(worst) ? c : worst), EXIT.ok);
}
