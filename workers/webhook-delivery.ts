/**
 * Delivers webhook jobs (queue "webhook-deliveries", queues/webhook-queue.ts): each attempt loads the
 * subscription and decrypts its secret, checks its URL against the allow-list again (an entry
 * removed since refuses it), signs the job's body (domain/webhook-signature.ts) and POSTs it over a
 * socket whose DNS lookup refuses private, loopback and link-local addresses no entry names
 * (connectors/guarded-lookup.ts). Redirects are not followed.
 *
 * A 2xx delivers. A network error, a timeout, a 5xx or a 429 is tried again by the queue with
 * exponential backoff; any other answer (3xx, 4xx), a refused destination or a removed subscription
 * is not. Every attempt is logged in `webhook_deliveries` with its time, duration, status code or
 * error, and the first 200 characters of the answer, the secret and the signature masked.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { Counter } from 'prom-client';
import { guardedLookup } from '../connectors/guarded-lookup.js';
import type {
  AllowedDestinationStore,
  DeliveryOutcome,
  WebhookDeliveryStore,
  WebhookSubscriptionStore,
} from '../connectors/mongo/index.js';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { redactSecrets } from '../domain/redaction.js';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  webhookSignature,
} from '../domain/webhook-signature.js';
import { RUN_COMPLETED_EVENT, webhookDestination, webhookDestinationProblem } from '../domain/webhooks.js';
import { M365SYNC_VERSION, registry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';
import { workerConnection, type RedisSettings } from '../queues/connection.js';
import { WEBHOOK_QUEUE, WebhookJobData, deliveryId, type WebhookSettings } from '../queues/webhook-queue.js';

/** How much of an answer is read, and how much of it is kept in the log. */
const READ_BYTES = 1024;
const EXCERPT_CHARS = 200;

/** Errors of this code are refusals by our side: trying again changes nothing. */
const REFUSED = 'EDESTINATIONREFUSED';

export interface WebhookDeliveryOptions {
  redis: RedisSettings;
  subscriptions: WebhookSubscriptionStore;
  deliveries: WebhookDeliveryStore;
  destinations: AllowedDestinationStore;
  settings: WebhookSettings;
  logger: Logger;
  /** Deliveries at once per process (default 4). */
  concurrency?: number;
}

/** The attempts counter, registered on first use (by each delivery worker; exported for the tests). */
export function webhookAttemptsMetric(): Counter<'outcome'> {
  const outcomes = metricsOn(registry).counter({
    name: 'm365sync_webhook_attempts_total',
    help: 'Webhook delivery attempts, by outcome: delivered, retrying (tried again later) or failed (given up)',
    labelNames: ['outcome'] as const,
  });
  // Each outcome at zero from the start, so the first failed delivery is an increase alerts see.
  for (const outcome of ['delivered', 'retrying', 'failed'] as const) outcomes.inc({ outcome }, 0);
  return outcomes;
}

/** What one attempt came to, before the queue's decision. */
interface AttemptResult {
  statusCode?: number;
  error?: { code: string; message: string };
  response?: string;
  /** Worth trying again: network trouble, 5xx, 429. */
  retryable: boolean;
}

/** Starts the worker that delivers; close it with `close()`. */
export function startWebhookDeliveryWorker(options: WebhookDeliveryOptions): Worker<WebhookJobData> {
  const metric = webhookAttemptsMetric();
  const worker = new Worker<WebhookJobData>(
    WEBHOOK_QUEUE,
    async (job) => {
      const data = WebhookJobData.safeParse(job.data);
      if (!data.success)
        throw new UnrecoverableError(`INVALID_INPUT: job ${job.id} is not a webhook delivery`);
      const subscription = await options.subscriptions.withSecret(data.data.subscriptionId);
      if (!subscription) return { skipped: 'the subscription was removed' };
      const started = Date.now();
      const result = await attempt(subscription, data.data, options);
      const retrying = result.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      const outcome: DeliveryOutcome =
        result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300
          ? 'delivered'
          : retrying
            ? 'retrying'
            : 'failed';
      await options.deliveries.record({
        deliveryId: deliveryId(data.data),
        subscriptionId: subscription.id,
        runId: data.data.runId,
        event: RUN_COMPLETED_EVENT,
        attempt: job.attemptsMade + 1,
        at: new Date(started),
        durationMs: Date.now() - started,
        ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
        ...(result.error ? { error: result.error } : {}),
        outcome,
        ...(result.response ? { response: result.response } : {}),
      });
      metric.inc({ outcome });
      const what = result.statusCode !== undefined ? `HTTP ${result.statusCode}` : result.error?.code;
      options.logger[outcome === 'failed' ? 'warn' : 'info'](
        {
          webhook: subscription.name,
          runId: data.data.runId,
          attempt: job.attemptsMade + 1,
          outcome,
          answer: what,
        },
        'webhook delivery attempt',
      );
      if (outcome === 'delivered') return { statusCode: result.statusCode };
      const reason = `${what}${result.error ? `: ${result.error.message}` : ''}`;
      if (!result.retryable) throw new UnrecoverableError(reason);
      throw new Error(reason);
    },
    {
      connection: workerConnection(options.redis),
      prefix: options.redis.prefix,
      concurrency: options.concurrency ?? 4,
    },
  );
  worker.on('error', (error) =>
    options.logger.error({ err: { message: error.message } }, 'webhook delivery worker error'),
  );
  return worker;
}

/** One attempt: the allow-list, then the signed POST. Never throws. */
async function attempt(
  subscription: { url: string; secret: string },
  data: WebhookJobData,
  options: Pick<WebhookDeliveryOptions, 'destinations' | 'settings'>,
): Promise<AttemptResult> {
  const entries = await options.destinations.entries();
  const refused = webhookDestinationProblem(subscription.url, entries);
  if (refused) return { error: { code: REFUSED, message: refused }, retryable: false };

  const body = JSON.stringify(data.body);
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = webhookSignature(subscription.secret, timestamp, body);
  const { port } = webhookDestination(subscription.url);
  const timeoutMs = options.settings.timeoutMs;
  const agent = new Agent({
    connect: { lookup: guardedLookup('webhook', () => entries, port), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  try {
    const answer = await request(subscription.url, {
      method: 'POST',
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': `m365sync/${M365SYNC_VERSION} webhook`,
        [EVENT_HEADER]: RUN_COMPLETED_EVENT,
        [DELIVERY_HEADER]: deliveryId(data),
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signature,
      },
      body,
    });
    const text = await startOf(answer.body);
    const response = excerpt(text, [subscription.secret, signature]);
    const status = answer.statusCode;
    return {
      statusCode: status,
      ...(response ? { response } : {}),
      retryable: status >= 500 || status === 429,
    };
  } catch (error) {
    const e = error as { code?: string; name?: string; message?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code ?? (e.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK');
    const message =
      code === 'TIMEOUT'
        ? `no answer within ${timeoutMs} ms`
        : redactSecrets(String(e.message), [subscription.secret]);
    return { error: { code, message: message.slice(0, EXCERPT_CHARS) }, retryable: code !== REFUSED };
  } finally {
    await agent
      .destroy()
      .catch(ignoreBecause("the attempt's outcome is decided; the agent's sockets close with it"));
  }
}

/** The first READ_BYTES of an answer; the rest is not read. */
async function startOf(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= READ_BYTES) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, READ_BYTES).toString('utf8');
}

// eslint-disable-next-line no-control-regex -- replacing control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** A receiver's answer as logged: secrets masked, control characters blanked, cut short. */
function excerpt(text: string, secrets: string[]): string {
  const masked = redactSecrets(text, secrets).replace(CONTROL, ' ').trim();
  return masked.length > EXCERPT_CHARS ? `${masked.slice(0, EXCERPT_CHARS)}…` : masked;
}
