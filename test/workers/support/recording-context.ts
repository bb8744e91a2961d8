/**
 * A run context that records what a kind run asks of it (workers/processor.ts RunContext), for unit
 * tests of the steps: every page is written as new, the sweep and the delta round answer what the test
 * sets, and what was recorded, reported and let go is kept for the test to read. No store, no service.
 */
import type { PageCounts } from '../../../connectors/mongo/index.js';
import type { KindResult } from '../../../domain/sync-run.js';
import type { SyncProgress } from '../../../queues/sync-queue.js';
import type { RunContext } from '../../../workers/processor.js';
import type { SweepOutcome } from '../../../workers/steps/guarded-sweep.js';

export const RUN_ID = '0123456789abcdef01234567';

/** The recording context; its answers are set per test. */
export function recordingContext(
  answers: { sweep?: SweepOutcome; storedOfRemoved?: number; prepare?: Promise<void> } = {},
) {
  const calls = {
    prepared: [] as string[],
    pages: [] as Record<string, unknown>[][],
    /** The kind of each page written, in the order written. */
    pageKinds: [] as string[],
    sweeps: 0,
    /** The kinds swept, in order. */
    swept: [] as string[],
    keptAllBut: [] as ReadonlySet<string>[],
    recorded: [] as { kind: string; result: KindResult }[],
    progress: [] as SyncProgress[],
    /** The failures let go, with why (logged at debug). */
    ignored: [] as { message: string; because: string }[],
  };
  const ctx = {
    runId: RUN_ID,
    logger: {
      debug: (details: { err: { message: string }; because: string }) =>
        void calls.ignored.push({ message: details.err.message, because: details.because }),
    },
    prepare: async (kind: string) => {
      calls.prepared.push(kind);
      await answers.prepare;
    },
    // Every object new, as on a first pull.
    writePage: async (kind: string, objects: readonly Record<string, unknown>[]): Promise<PageCounts> => {
      calls.pages.push([...objects]);
      calls.pageKinds.push(kind);
      return { created: objects.length, updated: 0, unchanged: 0 };
    },
    guardedSweep: async (kind: string): Promise<SweepOutcome> => {
      calls.sweeps++;
      calls.swept.push(kind);
      return answers.sweep ?? { deleted: 0 };
    },
    keepAllBut: async (_kind: string, removed: ReadonlySet<string>) => {
      calls.keptAllBut.push(removed);
      return answers.storedOfRemoved ?? removed.size;
    },
    recordKind: async (kind: string, result: KindResult) => void calls.recorded.push({ kind, result }),
    progress: async (p: SyncProgress) => void calls.progress.push(p),
  };
  return { ctx: ctx as unknown as RunContext, calls };
}
