/**
 * One kind's part of a run: counts what its pages did, sweeps when the kind completed, and records
 * the outcome in `sync_runs` as soon as it is known. A kind that fails sweeps nothing, so a failure
 * never loses yesterday's data.
 */
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import type { KindResult, RunError } from '../../domain/sync-run.js';
import type { RunContext } from '../processor.js';

export class KindRun {
  readonly started = Date.now();
  /** Objects written to MongoDB. */
  objects = 0;
  /** Objects the source sent (more than `objects` when a transform leaves some out). */
  received = 0;
  /**
   * Applied to each page before it is written (e.g. Teams users matched to Entra users); may leave
   * objects out. Set before the first write.
   */
  transform?: (objects: readonly Record<string, unknown>[]) => Promise<Record<string, unknown>[]>;
  /** Extra fields recorded with the kind's result (e.g. the Entra match counts). */
  annotations: Partial<Pick<KindResult, 'entraMatch' | 'sync' | 'fallback'>> = {};
  private readonly counts = { created: 0, updated: 0, unchanged: 0 };
  private result: KindResult | undefined;

  constructor(
    readonly kind: string,
    private readonly ctx: RunContext,
    /** Told each kind's outcome; `retryable` (for a failed kind) says whether trying again may help. */
    private readonly onSettled: (kind: string, result: KindResult, retryable?: boolean) => void,
    options: { prepare?: boolean } = {},
  ) {
    // Read the kind's stored picture now, while the source is still connecting and paging: on an
    // unchanged night that read is most of the store's work (an error surfaces at the first write).
    // A delta run does not: a round that changed nothing must not read the whole kind.
    if (options.prepare !== false)
      ctx
        .prepare(kind)
        .catch(ignoreBecause("the early read's error surfaces at the kind's first write", ctx.logger));
  }

  get settled(): boolean {
    return this.result !== undefined;
  }

  /** The kind's recorded result, once settled. */
  get outcome(): KindResult | undefined {
    return this.result;
  }

  async write(received: readonly Record<string, unknown>[]): Promise<void> {
    if (received.length === 0) return;
    this.received += received.length;
    const objects = this.transform ? await this.transform(received) : received;
    if (objects.length === 0) return;
    const page = await this.ctx.writePage(this.kind, objects);
    this.counts.created += page.created;
    this.counts.updated += page.updated;
    this.counts.unchanged += page.unchanged;
    this.objects += objects.length;
    await this.ctx.progress({ kind: this.kind, objects: this.objects, phase: 'page' });
  }

  /** The kind arrived whole: sweep what the run did not see, and record it. */
  async complete(): Promise<KindResult> {
    const outcome = await this.ctx.guardedSweep(this.kind);
    if ('held' in outcome) {
      const { wouldDelete, stored, limit, threshold, origin } = outcome.held;
      return this.settle({
        status: 'needs_review',
        ...this.counts,
        deleted: 0,
        durationMs: Date.now() - this.started,
        error: runError(
          new SyncError(
            'DELETE_THRESHOLD_EXCEEDED',
            `The sync would delete ${wouldDelete} of ${stored} ${this.kind}, more than the ${limit} allowed ` +
              `(${threshold} (from ${origin})). Nothing of ${this.kind} was deleted; the new and changed objects were saved. ` +
              `Check the tenant, then approve with \`m365sync runs approve-deletes ${this.ctx.runId}\` or let the next run decide again.`,
          ),
        ),
        held: outcome.held,
      });
    }
    return this.settle({
      status: 'succeeded',
      ...this.counts,
      deleted: outcome.deleted,
      durationMs: Date.now() - this.started,
    });
  }

  /**
   * A delta round of the kind was applied whole: the objects it removed are swept (behind delete
   * protection, as a full pull's sweep); without removals nothing is read or swept.
   */
  async completeDelta(removed: ReadonlySet<string>): Promise<KindResult> {
    if (removed.size > 0 && (await this.ctx.keepAllBut(this.kind, removed)) > 0) return this.complete();
    return this.settle({
      status: 'succeeded',
      ...this.counts,
      deleted: 0,
      durationMs: Date.now() - this.started,
    });
  }

  async fail(error: unknown, signal?: AbortSignal): Promise<KindResult> {
    if (this.result) return this.result; // already recorded (a failure after the outcome was known)
    const status = signal?.aborted ? 'cancelled' : 'failed';
    const { retryable, ...recorded } = runError(error);
    return this.settle(
      {
        status,
        ...this.counts,
        deleted: 0,
        durationMs: Date.now() - this.started,
        error: recorded,
      },
      retryable,
    );
  }

  private async settle(outcome: KindResult, retryable?: boolean): Promise<KindResult> {
    const result = { ...outcome, ...this.annotations };
    this.result = result;
    this.onSettled(this.kind, result, retryable);
    await this.ctx.recordKind(this.kind, result);
    await this.ctx.progress({
      kind: this.kind,
      objects: this.objects,
      phase: result.status === 'succeeded' || result.status === 'needs_review' ? 'kind-done' : 'kind-failed',
    });
    return result;
  }
}

export function runError(error: unknown): RunError & { retryable: boolean } {
  if (error instanceof SyncError)
    return { code: error.code, message: error.message, retryable: error.retryable };
  // Unknown errors (a driver's, a bug) may be transient: let the job's retry decide.
  return { code: 'TRANSIENT', message: (error as Error)?.message ?? String(error), retryable: true };
}
