/**
 * A tenant's page and its actions: "Sync now" (full, some kinds, or delta: requestSync, as the API's
 * POST /tenants/:ref/sync) and "Test connection" (its result shown on the tenant's page). Operators only;
 * a tenant outside the caller's scope is not found.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SyncError } from '../../domain/errors.js';
import { requestSync, showSchedule, type ConnectionCheckResult } from '../../operations/index.js';
import { queueCall } from '../redis-calls.js';
import type { Html } from './html.js';
import type { ConsoleSession } from './sessions.js';
import { tenantPage } from './tenant-page.js';
import { CONSOLE_ROUTE, needs, type ConsoleContext, type Form } from './context.js';

export function registerTenantRoutes(console: FastifyInstance, context: ConsoleContext): void {
  const { options, settings, send, sessionOf } = context;
  const { stores, syncQueue, timeoutMs } = options;
  const deps = { stores, queue: syncQueue, settings };

  console.get('/console/tenants/:id', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    const tenant = await stores.tenants.show((request.params as { id: string }).id, {
      scope: session.caller.scope,
    });
    return send(reply, session, 'Tenant', await renderTenant(request, session, tenant.id));
  });

  const renderTenant = async (
    request: FastifyRequest,
    session: ConsoleSession,
    tenantId: string,
    extra: { connectionTest?: ConnectionCheckResult[]; notice?: Html } = {},
  ) => {
    const tenant = await stores.tenants.show(tenantId, { scope: session.caller.scope });
    const [runs, scheduleView] = await Promise.all([
      stores.runs.list({ tenantId: tenant.id, limit: 15 }),
      options.triggerQueue
        ? queueCall(options.triggerQueue, timeoutMs, () =>
            showSchedule({ ...deps, triggers: options.triggerQueue! }, { tenantId: tenant.id }),
          )
        : undefined,
    ]);
    const changes = await stores.changes.ofRuns(runs.map((r) => r.id));
    const shownNotice = extra.notice ?? context.notice(request);
    return tenantPage({
      tenant,
      caller: session.caller,
      csrf: session.csrf,
      runs,
      changes,
      ...(scheduleView ? { schedule: scheduleView } : {}),
      ...(extra.connectionTest ? { connectionTest: extra.connectionTest } : {}),
      deltaEnabled: settings.M365SYNC_DELTA,
      canTestConnection: options.testConnection !== undefined,
      ...(shownNotice ? { notice: shownNotice } : {}),
    });
  };

  console.post('/console/tenants/:id/sync', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    needs(session.caller, 'operator');
    const tenant = await stores.tenants.show((request.params as { id: string }).id, {
      scope: session.caller.scope,
    });
    const form = request.body as Form;
    const kinds = form.kinds?.trim()
      ? form.kinds
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean)
      : undefined;
    const result = await queueCall(syncQueue, timeoutMs, () =>
      requestSync(deps, {
        tenant,
        trigger: 'operator',
        requestedBy: session.caller.name,
        ...(kinds ? { kinds } : {}),
        ...(form.mode === 'delta' ? { mode: 'delta' as const } : {}),
      }),
    );
    request.log.info(
      { by: session.caller.name, tenantId: tenant.id, runId: result.runId, outcome: result.outcome },
      'console: sync requested',
    );
    return reply.redirect(`/console/runs/${result.runId ?? result.jobId}`, 303);
  });

  console.post('/console/tenants/:id/test-connection', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    needs(session.caller, 'operator');
    const tenant = await stores.tenants.show((request.params as { id: string }).id, {
      scope: session.caller.scope,
    });
    if (!options.testConnection) throw new SyncError('CONFIGURATION', 'This API cannot test connections.');
    const connectionTest = await options.testConnection(tenant.id);
    request.log.info({ by: session.caller.name, tenantId: tenant.id }, 'console: connection tested');
    return send(
      reply,
      session,
      'Tenant',
      await renderTenant(request, session, tenant.id, { connectionTest }),
    );
  });
}
