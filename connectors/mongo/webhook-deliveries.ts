/**
 * The webhook delivery log (collection `webhook_deliveries`): one document per attempt to deliver
 * one run's outcome to one subscription, with when it was made, how long it took, the receiver's
 * status code or the network error, and what became of the delivery. Of the receiver's answer only a
 * short excerpt is kept, with the subscription's secret and the signature masked; headers never.
 * Attempts older than the retention are pruned by the dispatcher.
 */
import type { Collection, Db } from 'mongodb';

export const WEBHOOK_DELIVERIES_COLLECTION = 'webhook_deliveries';

/** `delivered`: 2xx; `retrying`: the queue tries again later; `failed`: given up (or not retried). */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed';

export interface DeliveryAttempt {
  /** The delivery (the queue's job id): the same on every attempt, sent as X-M365Sync-Delivery. */
  deliveryId: string;
  subscriptionId: string;
  runId: string;
  event: string;
  /** 1 for the first attempt. */
  attempt: number;
  at: Date;
  durationMs: number;
  statusCode?: number;
  /** A network error or a refusal before sending, as `{ code, message }`. */
  error?: { code: string; message: string };
  outcome: DeliveryOutcome;
  /** The start of the receiver's answer, masked and cut short. */
  response?: string;
}

export class WebhookDeliveryStore {
  readonly collection: Collection<DeliveryAttempt>;

  constructor(db: Db) {
    this.collection = db.collection<DeliveryAttempt>(WEBHOOK_DELIVERIES_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ subscriptionId: 1, at: -1 }, { name: 'subscription_newest' });
    await this.collection.createIndex({ at: 1 }, { name: 'at' });
  }

  async record(attempt: DeliveryAttempt): Promise<void> {
    await this.collection.insertOne({ ...attempt });
  }

  /** A subscription's attempts, newest first; optionally of one run. */
  async list(filter: { subscriptionId: string; runId?: string; limit?: number }): Promise<DeliveryAttempt[]> {
    return this.collection
      .find(
        { subscriptionId: filter.subscriptionId, ...(filter.runId ? { runId: filter.runId } : {}) },
        { projection: { _id: 0 } },
      )
      .sort({ at: -1, attempt: -1 })
      .limit(filter.limit ?? 50)
      .toArray();
  }

  /** Deletes attempts made before `before`; returns how many. */
  async prune(before: Date): Promise<number> {
    const { deletedCount } = await this.collection.deleteMany({ at: { $lt: before } });
    return deletedCount;
  }
}
