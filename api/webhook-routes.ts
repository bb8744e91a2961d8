/**
 * Webhook routes of the operator API, for admins: list, create (the signing secret is in this one
 * answer and nowhere else), show, remove, and read a subscription's delivery log. An admin sees and
 * manages only subscriptions whose scope lies within its own, and cannot make one reaching further.
 */
import type { FastifyInstance } from 'fastify';
import type { Stores } from '../connectors/mongo/stores.js';
import { callerOf } from './access.js';
import { queryValue } from './query.js';

const admin = { config: { access: { needs: 'admin' as const } } };
const RUN_ID = { test: /^[0-9a-f]{24}$/, says: 'must be a run id (24 hex digits)' };
const LIMIT = { test: /^(?:[1-9]\d{0,2}|500)$/, says: 'must be a whole number from 1 to 500' };

export async function registerWebhookRoutes(
  app: FastifyInstance,
  stores: Pick<Stores, 'webhooks' | 'webhookDeliveries'>,
): Promise<void> {
  const { webhooks: subscriptions, webhookDeliveries: deliveries } = stores;
  await deliveries.ensureIndexes();

  app.get('/webhooks', admin, async (request) => subscriptions.list({ within: callerOf(request).scope }));

  app.post('/webhooks', admin, async (request, reply) => {
    const caller = callerOf(request);
    const created = await subscriptions.create(request.body ?? {}, caller.name, { within: caller.scope });
    return reply.status(201).send(created);
  });

  app.get<{ Params: { ref: string } }>('/webhooks/:ref', admin, async (request) =>
    subscriptions.get(request.params.ref, { within: callerOf(request).scope }),
  );

  app.delete<{ Params: { ref: string } }>('/webhooks/:ref', admin, async (request) =>
    subscriptions.remove(request.params.ref, { within: callerOf(request).scope }),
  );

  app.get<{ Params: { ref: string } }>('/webhooks/:ref/deliveries', admin, async (request) => {
    const webhook = await subscriptions.get(request.params.ref, { within: callerOf(request).scope });
    const run = queryValue(request.query, 'run', RUN_ID);
    const limit = queryValue(request.query, 'limit', LIMIT);
    return deliveries.list({
      subscriptionId: webhook.id,
      ...(run ? { runId: run } : {}),
      limit: Number(limit ?? 50),
    });
  });
}
