/**
 * What each fault case did, for docs/RELIABILITY.md: every case records one line in
 * `.data/fault-results/` (one file per test process); `scripts/check-reliability.ts` checks after the
 * run that the document has a row for every case recorded, with the same number of times tried.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../../../.data/fault-results/', import.meta.url));

export interface FaultOutcome {
  /** Stable id; the document's row starts with it in backquotes. */
  id: string;
  /** The fault, in a few words. */
  fault: string;
  /** How many times the fault was applied in the case. */
  times: number;
  /** What the engine did. */
  engine: string;
  /** What was lost ("nothing" is the goal): checked by the case's assertions before it records. */
  lost: string;
  /** The test file that holds the case. */
  file: string;
}

export function recordFault(outcome: FaultOutcome): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(`${RESULTS_DIR}${process.pid}.jsonl`, `${JSON.stringify({ ...outcome, at: new Date() })}\n`);
}
