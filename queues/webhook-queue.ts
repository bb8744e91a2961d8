/**
 * The "webhook-deliveries" queue: one job = one run's outcome for one subscription. The job holds the
 * subscription's id, the run's id and the JSON body (fixed when queued, so every attempt sends the
 * same bytes); never the secret, which the delivery worker decrypts from MongoDB at each attempt. The
 * job id is `<subscriptionId>-<runId>`, so a run queued twice for a subscription (two dispatchers at
 * once) is one delivery. Retries: BullMQ attempts with exponential backoff.
 */
import { Queue, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { producerConnection, type RedisSettings } from './connection.js';

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

const WebhookEnv = z.object({
  M365SYNC_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(10),
  M365SYNC_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).default(10_000),
  M365SYNC_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

/** Read by the worker process (which queues and delivers) when it starts. */
export function webhookSettings(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const parsed = WebhookEnv.safeParse(env);
  if (!parsed.success)
    throw new ValidationError(
      'Webhook settings',
      parsed.error.issues.map((i) => ({
        field: String(i.path[0]),
        message: `${i.message} (not ${JSON.stringify(env[String(i.path[0])])})`,
      })),
    );
  return {
    attempts: parsed.data.M365SYNC_WEBHOOK_ATTEMPTS,
    backoffDelayMs: parsed.data.M365SYNC_WEBHOOK_BACKOFF_MS,
    timeoutMs: parsed.data.M365SYNC_WEBHOOK_TIMEOUT_MS,
  };
}

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

export function createWebhookQueue(redis: RedisSettings): Queue<WebhookJobData, unknown, string> {
  const queue = new Queue<WebhookJobData, unknown, string>(WEBHOOK_QUEUE, {
    connection: producerConnection(redis),
    prefix: redis.prefix,
  });
  // Without a listener an 'error' event would crash the process; failures reach callers as rejections.
  queue.on('error', () => {});
  return queue;
}
