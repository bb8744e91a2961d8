/**
 * Webhook routes of the operator API, for admins: list, create (the signing secret is in this one
 * answer and nowhere else), show, remove, and read a subscription's delivery log. An admin sees and
 * manages only subscriptions whose scope lies within its own, and cannot make one reaching further.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Stores } from '../connectors/mongo/index.js';
import { callerOf } from './access.js';
import {
  type ApiTypeProvider,
  DeliveryAttempt,
  ERRORS,
  Webhook,
  WebhookBody,
  queryString,
} from './schemas.js';

const admin = { access: { needs: 'admin' as const } };
const WebhookParams = z.object({ ref: z.string().describe('webhook name or id') });
const LIMIT = 'must be a whole number from 1 to 500';

export async function registerWebhookRoutes(
  app: FastifyInstance,
  stores: Pick<Stores, 'webhooks' | 'webhookDeliveries'>,
): Promise<void> {
  const { webhooks: subscriptions, webhookDeliveries: deliveries } = stores;
  await deliveries.ensureIndexes();
  const api = app.withTypeProvider<ApiTypeProvider>();

  api.get(
    '/webhooks',
    { config: admin, schema: { tags: ['webhooks'], response: { 200: z.array(Webhook), ...ERRORS } } },
    async (request) => subscriptions.list({ within: callerOf(request).scope }),
  );

  api.post(
    '/webhooks',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        description:
          'Subscribes a receiver to run ends. A generated signing secret is in the answer (`secret`), the only time it is shown; a given one is not echoed.',
        body: WebhookBody,
        response: { 201: Webhook.extend({ secret: z.string().optional() }), ...ERRORS },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const created = await subscriptions.create(request.body, caller.name, { within: caller.scope });
      return reply.status(201).send(created);
    },
  );

  api.get(
    '/webhooks/:ref',
    {
      config: admin,
      schema: { tags: ['webhooks'], params: WebhookParams, response: { 200: Webhook, ...ERRORS } },
    },
    async (request) => subscriptions.get(request.params.ref, { within: callerOf(request).scope }),
  );

  api.delete(
    '/webhooks/:ref',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        description: 'Removes a subscription; deliveries still queued for it are dropped.',
        params: WebhookParams,
        response: { 200: Webhook, ...ERRORS },
      },
    },
    async (request) => subscriptions.remove(request.params.ref, { within: callerOf(request).scope }),
  );

  api.get(
    '/webhooks/:ref/deliveries',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        description: "The subscription's delivery attempts, newest first.",
        params: WebhookParams,
        querystring: z.object({
          run: queryString()
            .regex(/^[0-9a-f]{24}$/, 'must be a run id (24 hex digits)')
            .optional(),
          limit: z.coerce.number({ error: LIMIT }).int(LIMIT).min(1, LIMIT).max(500, LIMIT).default(50),
        }),
        response: { 200: z.array(DeliveryAttempt), ...ERRORS },
      },
    },
    async (request) => {
      const webhook = await subscriptions.get(request.params.ref, { within: callerOf(request).scope });
      const { run, limit } = request.query;
      return deliveries.list({ subscriptionId: webhook.id, ...(run ? { runId: run } : {}), limit });
    },
  );
}
