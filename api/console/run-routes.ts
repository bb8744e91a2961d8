/**
 * A run's page, its live progress (JSON for live.js), and its actions: cancel (cancelRun) and approving
 * the deletes delete protection held back, a confirmation page first (approveDeletes). A run whose
 * tenant is outside the caller's scope is not found, as if it did not exist.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Stores } from '../../connectors/mongo/index.js';
import type { Caller } from '../../domain/access.js';
import { SyncError } from '../../domain/errors.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { approveDeletes, cancelRun, listChanges } from '../../operations/index.js';
import { queueCall } from '../redis-calls.js';
import { approvePage, pendingHeld, runPage, runProgress } from './run-page.js';
import { CONSOLE_ROUTE, needs, type ConsoleContext, type Form } from './context.js';

/** A run the caller may see: its tenant is within the caller's scope (else "no such run"). */
async function runInScope(
  stores: Pick<Stores, 'runs' | 'tenants'>,
  caller: Caller,
  runId: string,
): Promise<{ run: SyncRun; tenantName: string }> {
  const run = await stores.runs.get(runId);
  if (!run) throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
  const tenant = await stores.tenants.show(run.tenantId, { scope: caller.scope }).catch((error: unknown) => {
    if (error instanceof SyncError && error.code === 'NOT_FOUND')
      throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
    throw error;
  });
  return { run, tenantName: (tenant.Tenant as { name?: string } | undefined)?.name ?? tenant.id };
}

export function registerRunRoutes(console: FastifyInstance, context: ConsoleContext): void {
  const { options, send, sessionOf } = context;
  const { stores, syncQueue, timeoutMs } = options;
  /** The run of the address (`:id`), if the caller may see it. */
  const runOf = (request: FastifyRequest) =>
    runInScope(stores, sessionOf(request).caller, (request.params as { id: string }).id);

  console.get('/console/runs/:id', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    const { run, tenantName } = await runOf(request);
    const changes = await listChanges(
      { stores },
      {
        tenant: run.tenantId,
        scope: session.caller.scope,
        runId: run.id,
        limit: 50,
      },
    );
    const shownNotice = context.notice(request);
    return send(
      reply,
      session,
      'Run',
      runPage({
        run,
        tenantName,
        caller: session.caller,
        csrf: session.csrf,
        changes: changes.changes,
        moreChanges: changes.more,
        ...(shownNotice ? { notice: shownNotice } : {}),
      }),
    );
  });

  console.get('/console/runs/:id/progress', CONSOLE_ROUTE, async (request, reply) => {
    const { run } = await runOf(request);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(runProgress(run)));
  });

  console.post('/console/runs/:id/cancel', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    needs(session.caller, 'operator');
    const { run } = await runOf(request);
    const result = await queueCall(syncQueue, timeoutMs, () =>
      cancelRun({ queue: syncQueue, stores }, { runId: run.id, by: session.caller.name }),
    );
    request.log.info(
      { by: session.caller.name, runId: run.id, outcome: result.outcome },
      'console: run cancelled',
    );
    return reply.redirect(`/console/runs/${run.id}?done=${result.outcome}`, 303);
  });

  console.get('/console/runs/:id/approve', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    needs(session.caller, 'operator');
    const { run, tenantName } = await runOf(request);
    if (pendingHeld(run).length === 0) return reply.redirect(`/console/runs/${run.id}`, 303);
    return send(reply, session, 'Approve held deletes', approvePage({ run, tenantName, csrf: session.csrf }));
  });

  console.post('/console/runs/:id/approve-deletes', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    needs(session.caller, 'operator');
    const { run, tenantName } = await runOf(request);
    // The confirmation step is the server's, not only the page's: without the box ticked, nothing goes.
    if ((request.body as Form).confirm !== 'yes')
      return send(
        reply,
        session,
        'Approve held deletes',
        approvePage({
          run,
          tenantName,
          csrf: session.csrf,
          problem: 'Tick the box to confirm: nothing was deleted.',
        }),
        400,
      );
    const result = await approveDeletes({ stores }, { runId: run.id, approvedBy: session.caller.name });
    request.log.info(
      { by: session.caller.name, runId: run.id, deleted: result.deleted },
      'console: held deletes approved',
    );
    return reply.redirect(`/console/runs/${run.id}?done=approved`, 303);
  });
}
