/** The fleet page (/console): the tenants of the caller's scope, filtered, sorted and paged (fleet.ts). */
import type { FastifyInstance } from 'fastify';
import { fleetPage, fleetView, parseFleetQuery, type FleetSnapshots } from './fleet.js';
import { CONSOLE_ROUTE, type ConsoleContext, type Form } from './context.js';

export function registerFleetRoutes(
  console: FastifyInstance,
  context: ConsoleContext,
  snapshots: FleetSnapshots,
): void {
  const { options, settings } = context;
  const staleAfterMs = settings.M365SYNC_STALE_AFTER_HOURS * 3_600_000;

  console.get('/console', CONSOLE_ROUTE, async (request, reply) => {
    const session = context.sessionOf(request);
    const view = await fleetView(
      {
        stores: options.stores,
        snapshots,
        ...(options.triggerQueue ? { triggerQueue: options.triggerQueue } : {}),
        timeoutMs: options.timeoutMs,
        staleAfterMs,
      },
      session.caller.scope,
      parseFleetQuery(request.query as Form),
    );
    return context.send(reply, session, 'Fleet', fleetPage(view));
  });
}
