/**
 * Queues webhook deliveries for ended runs: the run records are the outbox. A pass reads the runs
 * that ended (succeeded, partial, needs_review, failed, cancelled; not a failed attempt the queue
 * will retry, whose retry ends on its own) since the oldest subscription was made and that no pass
 * has queued yet, adds one delivery job per subscription that wants each run, and only then marks the
 * runs `webhooksQueuedAt`. So whichever way a run ended (the worker finishing it, the run reaper, an
 * operator's cancel) and whatever failed on the way (Redis away, the process killed between the add
 * and the mark), its deliveries are queued by a later pass; a run queued twice is one job (job ids
 * `<subscription>-<run>`).
 *
 * The worker process runs a pass when one of its runs ends, when its reaper ended some, and on a
 * timer; passes in one process do not overlap, and any number of processes may run them.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Stores } from '../connectors/mongo/index.js';
import { WEBHOOK_STATUSES, runCompletedBody, webhookWants } from '../domain/webhooks.js';
import {
  WEBHOOK_JOB,
  deliveryId,
  webhookJobOptions,
  type WebhookJobData,
  type WebhookSettings,
} from '../queues/webhook-queue.js';

export interface WebhookDispatcherOptions {
  stores: Pick<Stores, 'runs' | 'tenants' | 'webhooks' | 'webhookDeliveries' | 'changes'>;
  queue: Queue<WebhookJobData, unknown, string>;
  settings: WebhookSettings;
  logger: Logger;
  /** Runs read per query (default 200). */
  batch?: number;
  /** How long delivery attempts stay in the log (default 30 days); pruned at most once an hour. */
  retentionMs?: number;
}

const HOUR_MS = 3600_000;

export class WebhookDispatcher {
  private passing: Promise<number> | undefined;
  private again = false;
  private prunedAt = 0;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  /**
   * A pass, or the pass running now followed by one more (a run may have ended after it read);
   * resolves to the deliveries this call queued. A failed pass is logged: the next one catches up.
   */
  nudge(): Promise<number> {
    if (this.passing) {
      this.again = true;
      return this.passing;
    }
    const run = async (): Promise<number> => {
      let queued = 0;
      do {
        this.again = false;
        queued += await this.pass().catch((error: unknown) => {
          this.options.logger.warn(
            { err: { message: (error as Error).message } },
            'webhook dispatch failed; the next pass queues what this one did not',
          );
          return 0;
        });
      } while (this.again);
      return queued;
    };
    this.passing = run().finally(() => (this.passing = undefined));
    return this.passing;
  }

  /** Resolves when no pass is running. */
  async settled(): Promise<void> {
    while (this.passing) await this.passing;
  }

  /** One pass: every ended run not yet queued, in batches. */
  private async pass(): Promise<number> {
    const { stores, queue, settings } = this.options;
    await this.prune();
    const filters = await stores.webhooks.filters();
    if (filters.length === 0) return 0;
    const since = new Date(Math.min(...filters.map((f) => f.createdAt.getTime())));
    let queued = 0;
    for (;;) {
      const ended = await stores.runs.endedUnannounced(WEBHOOK_STATUSES, since, this.options.batch ?? 200);
      if (ended.length === 0) return queued;
      const names = await stores.tenants.names(ended.map((r) => r.tenantId));
      const changes = await stores.changes.ofRuns(ended.map((r) => r.id));
      const jobs: { name: string; data: WebhookJobData; opts: ReturnType<typeof webhookJobOptions> }[] = [];
      for (const run of ended)
        for (const filter of filters) {
          if (!webhookWants(filter, run)) continue;
          const ids = { subscriptionId: filter.id, runId: run.id };
          const data: WebhookJobData = {
            ...ids,
            body: runCompletedBody(run, names.get(run.tenantId), deliveryId(ids), changes.get(run.id)),
          };
          jobs.push({ name: WEBHOOK_JOB, data, opts: webhookJobOptions(data, settings) });
        }
      if (jobs.length > 0) await queue.addBulk(jobs);
      await stores.runs.markAnnounced(ended.map((r) => r.id));
      queued += jobs.length;
      if (jobs.length > 0)
        this.options.logger.info(
          { runs: ended.length, deliveries: jobs.length },
          'webhook deliveries queued',
        );
    }
  }

  private async prune(): Promise<void> {
    if (Date.now() - this.prunedAt < HOUR_MS) return;
    this.prunedAt = Date.now();
    const retention = this.options.retentionMs ?? 30 * 24 * HOUR_MS;
    await this.options.stores.webhookDeliveries.prune(new Date(Date.now() - retention));
  }
}
