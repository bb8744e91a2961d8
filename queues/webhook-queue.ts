/**
 * The "webhook-deliveries" queue: one job = one run's outcome for one subscription. The job holds the
 * subscription's id, the run's id and the JSON body (fixed when queued, so every attempt sends the
 * same bytes); never the secret, which the delivery worker decrypts from MongoDB at each attempt. The
 * job id is `<subscriptionId>-<runId>`, so a run queued twice for a subscription (two dispatchers at
 * once) is one delivery. Retries: BullMQ attempts with exponential backoff.
 */
import type { Queue } from 'bullmq';
import { type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { producerQueue, type ProducerOptions, type RedisSettings } from './connection.js';

export const WEBHOOK_QUEUE = 'webhook-deliveries';
export const WEBHOOK_JOB = 'run.completed';

const ObjectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'must be 24 hex digits');

export const WebhookJobData = z
  .object({
    subscriptionId: ObjectIdHex,
    runId: ObjectIdHex,
    /** The JSON body to send (domain/webhooks.ts runCompletedBody). */
    body: z.record(z.string(), z.unknown()),
  })
  .strict();
export type WebhookJobData = z.infer<typeof WebhookJobData>;

export interface WebhookSettings {
  /** Attempts per delivery, the first included. */
  attempts: number;
  /** The first retry's delay; each next one doubles. */
  backoffDelayMs: number;
  /** One attempt's limit: connecting, sending and reading the answer's start. */
  timeoutMs: number;
}

/** From the process settings (the worker process queues and delivers). */
export function webhookSettings(
  e: Pick<
    Settings,
    'M365SYNC_WEBHOOK_ATTEMPTS' | 'M365SYNC_WEBHOOK_BACKOFF_MS' | 'M365SYNC_WEBHOOK_TIMEOUT_MS'
  >,
): WebhookSettings {
  return {
    attempts: e.M365SYNC_WEBHOOK_ATTEMPTS,
    backoffDelayMs: e.M365SYNC_WEBHOOK_BACKOFF_MS,
    timeoutMs: e.M365SYNC_WEBHOOK_TIMEOUT_MS,
  };
}

/** The defaults (tests and tools); a process passes the settings it parsed. */
export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = webhookSettings(DEFAULT_SETTINGS);

export function deliveryId(data: Pick<WebhookJobData, 'subscriptionId' | 'runId'>): string {
  return `${data.subscriptionId}-${data.runId}`;
}

export function webhookJobOptions(data: WebhookJobData, settings: WebhookSettings): JobsOptions {
  return {
    jobId: deliveryId(data),
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffDelayMs, jitter: 0.2 },
    // Kept a while so the same delivery queued again is recognised (and shown on the board).
    removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}

export function createWebhookQueue(
  redis: RedisSettings,
  options: ProducerOptions = {},
): Queue<WebhookJobData, unknown, string> {
  return producerQueue<WebhookJobData>(WEBHOOK_QUEUE, redis, options);
}
