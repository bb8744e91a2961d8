/**
 * The upkeep of run records beside the runs: the run reaper's passes (workers/run-reaper.ts) every
 * SYNC_REAPER_INTERVAL_MS and for one tenant when one of its runs starts; the ends of runs this
 * process could not record (MongoDB away), written before each pass; and, on the same beat, the change
 * feed's retention and the pruning of quiet delta runs' records (each at most hourly).
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Stores, SyncRunStore } from '../connectors/mongo/index.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { runErrorOf } from '../domain/sync-run.js';
import type { SyncJobData } from '../queues/sync-queue.js';
import { RunReaper } from './run-reaper.js';

export type RunEnd = Parameters<SyncRunStore['finish']>[1];

export interface RunUpkeepOptions {
  stores: Pick<Stores, 'runs' | 'leases' | 'changes'>;
  /** The sync queue the reaper reads job states from. */
  queue: Queue<SyncJobData, unknown, string>;
  reaperIntervalMs: number;
  /** How long a queued record may wait for its producer's add before the reaper judges it. */
  enqueueGraceMs: number;
  /** How long the record of a delta run that changed nothing is kept. */
  deltaRunRetentionDays: number;
  logger: Logger;
  /** Told when a pass ended run records: webhooks queue their deliveries. */
  onRunsEnded?: () => void;
  clock?: Clock;
}

const HOUR_MS = 3600_000;

export class RunUpkeep {
  private readonly reaper: RunReaper;
  private readonly clock: Clock;
  // Run ends this process could not record: written before each pass, so the record tells what the
  // run did (cancelled, LEASE_LAPSING) rather than the reaper's WORKER_LOST.
  private readonly unrecordedEnds = new Map<string, RunEnd>();
  private prunedRunsAt = 0;
  private reaping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RunUpkeepOptions) {
    this.clock = options.clock ?? systemClock;
    this.reaper = new RunReaper({
      runs: options.stores.runs,
      leases: options.stores.leases,
      queue: options.queue,
      enqueueGraceMs: options.enqueueGraceMs,
      logger: options.logger,
      clock: this.clock,
    });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.reap(), this.options.reaperIntervalMs);
    this.timer.unref();
  }

  /** A run's end that MongoDB refused: written before the next pass. */
  recordLater(runId: string, end: RunEnd): void {
    this.unrecordedEnds.set(runId, end);
  }

  /** One pass (of every open record, or one tenant's); one pass at a time, a failed one tried later. */
  reap(filter: { tenantId?: string } = {}): Promise<void> {
    const log = this.options.logger;
    this.reaping ??= this.recordLateEnds()
      .then(() => this.reaper.reap(filter))
      .then((ended) => {
        if (ended.merged + ended.failed > 0) this.options.onRunsEnded?.();
      })
      .catch((error: unknown) => log.warn({ err: runErrorOf(error) }, 'run reaper pass failed'))
      .then(() => this.options.stores.changes.prune())
      .catch((error: unknown) => log.warn({ err: runErrorOf(error) }, 'change feed prune failed'))
      .then(() => this.pruneQuietDeltaRuns())
      .catch((error: unknown) => log.warn({ err: runErrorOf(error) }, 'quiet delta runs prune failed'))
      .finally(() => (this.reaping = undefined));
    return this.reaping;
  }

  /** Stops the timer and waits for a pass under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reaping;
  }

  private async recordLateEnds(): Promise<void> {
    for (const [runId, end] of this.unrecordedEnds) {
      await this.options.stores.runs.finish(runId, end);
      this.unrecordedEnds.delete(runId);
    }
  }

  private async pruneQuietDeltaRuns(): Promise<void> {
    const now = this.clock.now();
    if (now - this.prunedRunsAt < HOUR_MS) return;
    this.prunedRunsAt = now;
    const before = new Date(now - this.options.deltaRunRetentionDays * 86_400_000);
    const removed = await this.options.stores.runs.pruneQuietDeltaRuns(before);
    if (removed > 0) this.options.logger.info({ removed }, 'removed the records of quiet delta runs');
  }
}
