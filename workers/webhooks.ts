/**
 * Webhooks in the worker process: the dispatcher that queues a delivery per subscription for each
 * ended run (workers/webhook-dispatcher.ts) and the worker that delivers them
 * (workers/webhook-delivery.ts). `nudge()` runs a dispatch pass now (the sync worker calls it when a
 * run ends); a timer runs one every `scanIntervalMs` for the runs that ended elsewhere.
 */
import type { Logger } from 'pino';
import type { Stores } from '../connectors/mongo/index.js';
import type { RedisSettings } from '../queues/connection.js';
import {
  DEFAULT_WEBHOOK_SETTINGS,
  createWebhookQueue,
  type WebhookSettings,
} from '../queues/webhook-queue.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { startWebhookDeliveryWorker } from './webhook-delivery.js';

export interface StartWebhooksOptions {
  redis: RedisSettings;
  /** With the key ring that decrypts the subscriptions' secrets. */
  stores: Pick<Stores, 'runs' | 'tenants' | 'webhooks' | 'webhookDeliveries' | 'destinations' | 'changes'>;
  logger: Logger;
  /** M365SYNC_WEBHOOK_* from the process settings; default their defaults. */
  settings?: WebhookSettings;
  /** How often a dispatch pass runs without a nudge (default 15 s). */
  scanIntervalMs?: number;
}

export interface Webhooks {
  /** A dispatch pass now; resolves to the deliveries it queued. */
  nudge(): Promise<number>;
  close(): Promise<void>;
}

export async function startWebhooks(options: StartWebhooksOptions): Promise<Webhooks> {
  const { stores } = options;
  const settings = options.settings ?? DEFAULT_WEBHOOK_SETTINGS;
  const queue = createWebhookQueue(options.redis);
  const dispatcher = new WebhookDispatcher({ stores, queue, settings, logger: options.logger });
  await Promise.all([
    stores.webhooks.ensureIndexes(),
    stores.webhookDeliveries.ensureIndexes(),
    stores.runs.ensureIndexes(),
  ]);
  const worker = startWebhookDeliveryWorker({
    redis: options.redis,
    subscriptions: stores.webhooks,
    deliveries: stores.webhookDeliveries,
    destinations: stores.destinations,
    settings,
    logger: options.logger,
  });
  const timer = setInterval(() => void dispatcher.nudge(), options.scanIntervalMs ?? 15_000);
  timer.unref();
  void dispatcher.nudge();
  return {
    nudge: () => dispatcher.nudge(),
    async close() {
      clearInterval(timer);
      await dispatcher.settled();
      await worker.close();
      await queue.close();
    },
  };
}
