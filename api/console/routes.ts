/**
 * The operator console at /console: server-rendered pages (api/console/*-page.ts, fleet.ts) over the
 * same stores, operations, roles and scopes as the JSON API.
 *
 * In the order a request meets it: the API's Host check (api/access.ts; the routes' access is
 * `console`, so no Bearer token is asked for), then this plugin's hook: the MongoDB gate, the session
 * cookie (sessions.ts; none: GET goes to the sign-in page, anything else is 401), and for every POST
 * the Origin (it must be this API: a cross-site form cannot post) and the session's anti-forgery token.
 * Each action then checks the role the API's route would need (viewer sees, operator acts, an admin
 * whose scope is `*` pauses the queue: else 403, even for a hand-made POST), and looks its tenant or
 * run up within the caller's scope (outside it: 404, as if it did not exist). Actions call the
 * operations the API calls, with the caller's token name as the actor on the record.
 *
 * Every answer carries a strict Content-Security-Policy (only this origin; no inline script or style),
 * is never framed or cached, and sends a Referer only to this origin. Errors are pages, not JSON.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Stores } from '../../connectors/mongo/index.js';
import { ALL_SCOPES, roleAllows, type Caller, type Role } from '../../domain/access.js';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../../domain/settings.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import type { SyncRun } from '../../domain/sync-run.js';
import {
  approveDeletes,
  cancelRun,
  listChanges,
  pauseSyncs,
  requestSync,
  showSchedule,
  type ConnectionCheckResult,
} from '../../operations/index.js';
import { queueState } from '../../queues/queue-state.js';
import type { SyncJobData } from '../../queues/sync-queue.js';
import { ApiRefusal, sameOrigin, type Authentication } from '../access.js';
import { queueCall } from '../redis-calls.js';
import { CONSOLE_CSS, LIVE_JS } from './assets.js';
import { FleetSnapshots, fleetPage, fleetView, parseFleetQuery } from './fleet.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { approvePage, pendingHeld, runPage, runProgress } from './run-page.js';
import { ConsoleSessions, csrfMatches, SESSION_TTL_SECONDS, type ConsoleSession } from './sessions.js';
import { signInPage } from './sign-in-page.js';
import { tenantPage } from './tenant-page.js';

export interface ConsoleOptions {
  stores: Stores;
  authentication: Authentication;
  syncQueue: Queue<SyncJobData, unknown, string>;
  triggerQueue?: Queue;
  timeoutMs: number;
  settings?: Settings;
  /** The MongoDB gate (api/mongo-calls.ts): 503 within the service timeout instead of a hung page. */
  ready: () => Promise<void>;
  /** Tests a tenant's connection (operations/test-connection.ts, wired by the API's entry point). */
  testConnection?: (tenantId: string) => Promise<ConnectionCheckResult[]>;
  /** Sign-in attempts with a refused token, per client address per window; default 10 a minute. */
  failedSignInLimit?: { max: number; timeWindowMs: number };
}

export const SESSION_COOKIE = 'm365sync_console';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session of the request (console routes that need one). */
    consoleSession: ConsoleSession | null;
  }
}

type Form = Record<string, string | undefined>;

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function needs(caller: Caller, role: Role, allScopes = false): void {
  if (!roleAllows(caller.role, role))
    throw new ApiRefusal(
      403,
      'PERMISSION',
      `Your token's role (${caller.role}) may not do this: it needs the ${role} role.`,
    );
  if (allScopes && caller.scope !== ALL_SCOPES)
    throw new ApiRefusal(
      403,
      'PERMISSION',
      `This changes every tenant's syncs: it needs a token whose scope is ${ALL_SCOPES}.`,
    );
}

const NOTICES: Record<string, string> = {
  cancelled: 'The run was cancelled before it started.',
  'cancel-requested': 'Cancel asked: the worker stops the run at its next page.',
  approved: 'The held deletes were approved and carried out.',
  paused: 'The queue is paused: workers take no new sync jobs.',
  resumed: 'The queue is running again.',
};

/** How long the API's start waits for the console's first read of the fleet. */
const FIRST_READ_WAIT_MS = 15_000;

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const { stores, syncQueue, timeoutMs } = options;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const sessions = new ConsoleSessions(syncQueue, options.authentication, timeoutMs);
  const staleAfterMs = settings.M365SYNC_STALE_AFTER_HOURS * 3_600_000;
  const deps = { stores, queue: syncQueue, settings };
  const signInLimit = options.failedSignInLimit ?? { max: 10, timeWindowMs: 60_000 };
  const snapshots = new FleetSnapshots(stores);
  // The fleet's first read (seconds at 5,000 tenants on FerretDB) is made before the API listens, so
  // no operator waits for it; at most FIRST_READ_WAIT_MS (a MongoDB away at start-up must not keep the
  // API from answering: the page then reads the fleet when it is opened).
  app.addHook('onReady', async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      snapshots.get().catch(ignoreBecause('the fleet page reads the fleet again when it is opened')),
      new Promise((resolve) => (timer = setTimeout(resolve, FIRST_READ_WAIT_MS))),
    ]);
    clearTimeout(timer);
  });

  void app.register(async (console) => {
    const config = { access: 'console' as const };
    const open = { config, schema: { hide: true } };
    console.decorateRequest('consoleSession', null);
    console.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16_384 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    const failedSignIns = console.createRateLimit({
      max: signInLimit.max,
      timeWindow: signInLimit.timeWindowMs,
      keyGenerator: (request: FastifyRequest) => `console-sign-in:${request.ip}`,
    });

    console.addHook('onSend', async (request, reply, payload) => {
      void reply.header('content-security-policy', CSP);
      void reply.header('x-frame-options', 'DENY');
      void reply.header('x-content-type-options', 'nosniff');
      // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with a form's POST.
      void reply.header('referrer-policy', 'same-origin');
      void reply.header('cross-origin-opener-policy', 'same-origin');
      if (!request.url.startsWith('/console/assets/')) void reply.header('cache-control', 'no-store');
      return payload;
    });

    // The session, the Origin and the anti-forgery token (sign-in and the assets need no session).
    console.addHook('preHandler', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (path.startsWith('/console/assets/')) return;
      const post = request.method === 'POST';
      if (post && !sameOrigin(request))
        throw new ApiRefusal(
          403,
          'PERMISSION',
          'A console form must be sent from the console itself (Origin).',
        );
      if (path === '/console/sign-in') return;
      await options.ready();
      const session = await sessions.resume(cookieOf(request, SESSION_COOKIE));
      if (!session) {
        if (request.method === 'GET') return reply.redirect('/console/sign-in', 303);
        throw new ApiRefusal(401, 'AUTHENTICATION', 'Sign in to the console first.');
      }
      if (post && !csrfMatches(session, (request.body as Form | undefined)?.csrf))
        throw new ApiRefusal(
          403,
          'PERMISSION',
          'This form is out of date or not from this session: reload the page and try again.',
        );
      request.consoleSession = session;
      request.caller = session.caller;
    });

    console.setErrorHandler((error: unknown, request, reply) => {
      const frame = (status: number, title: string, body: Html) =>
        reply
          .status(status)
          .type('text/html; charset=utf-8')
          .send(
            page({
              title,
              ...(request.consoleSession
                ? { caller: request.consoleSession.caller, csrf: request.consoleSession.csrf }
                : {}),
              body,
            }),
          );
      if (error instanceof ApiRefusal)
        return frame(
          error.statusCode,
          error.statusCode === 401 ? 'Sign in' : 'Not allowed',
          html`<h1>${error.statusCode === 401 ? 'Sign in first' : 'Not allowed'}</h1>
            <p class="notice bad" role="alert">${error.message}</p>
            ${error.statusCode === 401 ? html`<p><a href="/console/sign-in">Sign in</a></p>` : ''}`,
        );
      if (error instanceof SyncError && error.code === 'NOT_FOUND')
        return frame(
          404,
          'Not found',
          html`<h1>Not found</h1>
            <p>${error.message}</p>
            <p><a href="/console">Back to the fleet</a></p>`,
        );
      if (error instanceof ValidationError)
        return frame(
          400,
          'Not valid',
          html`<h1>That is not valid</h1>
            <p class="notice bad" role="alert">${error.message}</p>`,
        );
      if (error instanceof SyncError && ['CONFLICT', 'CONFIGURATION', 'INVALID_INPUT'].includes(error.code))
        return frame(
          409,
          'Not done',
          html`<h1>Not done</h1>
            <p class="notice warn" role="alert"><code>${error.code}</code> ${error.message}</p>
            <p><a href="/console">Back to the fleet</a></p>`,
        );
      if (error instanceof SyncError && error.code === 'SERVICE_UNAVAILABLE')
        return frame(
          503,
          'Unavailable',
          html`<h1>A service is unavailable</h1>
            <p class="notice bad" role="alert">${error.message}</p>`,
        );
      request.log.error({ err: error }, 'console request failed');
      return frame(
        500,
        'Error',
        html`<h1>Something went wrong</h1>
          <p>The API log says what.</p>`,
      );
    });

    // Any other console address: the console's own 404 page (once signed in), not the API's JSON.
    console.get('/console/*', open, async (request) => {
      throw new SyncError('NOT_FOUND', `No console page ${request.url.split('?')[0]}.`);
    });

    const send = (reply: FastifyReply, session: ConsoleSession, title: string, body: Html, status = 200) =>
      reply
        .status(status)
        .type('text/html; charset=utf-8')
        .send(page({ title, caller: session.caller, csrf: session.csrf, body }));
    const sessionOf = (request: FastifyRequest) => request.consoleSession!;
    const notice = (request: FastifyRequest): Html | undefined => {
      const done = (request.query as Form).done;
      return done && NOTICES[done] ? html`<p class="notice" role="status">${NOTICES[done]}</p>` : undefined;
    };
    /** A run the caller may see: its tenant is within the caller's scope (else "no such run"). */
    const runInScope = async (
      caller: Caller,
      runId: string,
    ): Promise<{ run: SyncRun; tenantName: string }> => {
      const run = await stores.runs.get(runId);
      if (!run) throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
      const tenant = await stores.tenants
        .show(run.tenantId, { scope: caller.scope })
        .catch((error: unknown) => {
          if (error instanceof SyncError && error.code === 'NOT_FOUND')
            throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
          throw error;
        });
      return { run, tenantName: (tenant.Tenant as { name?: string } | undefined)?.name ?? tenant.id };
    };

    console.get('/console/assets/console.css', open, async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(CONSOLE_CSS),
    );
    console.get('/console/assets/live.js', open, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=300').send(LIVE_JS),
    );

    console.get('/console/sign-in', open, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(page({ title: 'Sign in', body: signInPage() })),
    );
    console.post('/console/sign-in', open, async (request, reply) => {
      const past = await failedSignIns(request, { increment: false });
      if (!past.isAllowed && past.remaining === 0)
        return reply
          .status(429)
          .header('retry-after', String(past.ttlInSeconds))
          .type('text/html; charset=utf-8')
          .send(
            page({
              title: 'Sign in',
              body: signInPage(
                `Too many refused sign-ins from this address; try again in ${past.ttlInSeconds} s.`,
              ),
            }),
          );
      await options.ready();
      const token = ((request.body as Form | undefined)?.token ?? '').trim();
      const caller = /^[\x21-\x7e]{1,512}$/.test(token) ? await sessions.callerOfToken(token) : null;
      if (!caller) {
        await failedSignIns(request);
        return reply
          .status(401)
          .type('text/html; charset=utf-8')
          .send(page({ title: 'Sign in', body: signInPage('That token is unknown or revoked.') }));
      }
      const sessionId = await sessions.start(token);
      request.log.info({ by: caller.name }, 'console: signed in');
      const secure = request.protocol === 'https' ? '; Secure' : '';
      return reply
        .header(
          'set-cookie',
          `${SESSION_COOKIE}=${sessionId}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_SECONDS}${secure}`,
        )
        .redirect('/console', 303);
    });
    console.post('/console/sign-out', open, async (request, reply) => {
      await sessions.end(cookieOf(request, SESSION_COOKIE));
      return reply
        .header('set-cookie', `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`)
        .redirect('/console/sign-in', 303);
    });

    console.get('/console', open, async (request, reply) => {
      const session = sessionOf(request);
      const view = await fleetView(
        {
          stores,
          snapshots,
          ...(options.triggerQueue ? { triggerQueue: options.triggerQueue } : {}),
          timeoutMs,
          staleAfterMs,
        },
        session.caller.scope,
        parseFleetQuery(request.query as Form),
      );
      return send(reply, session, 'Fleet', fleetPage(view));
    });

    console.get('/console/tenants/:id', open, async (request, reply) => {
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
      const shownNotice = extra.notice ?? notice(request);
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

    console.post('/console/tenants/:id/sync', open, async (request, reply) => {
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

    console.post('/console/tenants/:id/test-connection', open, async (request, reply) => {
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

    console.get('/console/runs/:id', open, async (request, reply) => {
      const session = sessionOf(request);
      const { run, tenantName } = await runInScope(session.caller, (request.params as { id: string }).id);
      const changes = await listChanges(deps, {
        tenant: run.tenantId,
        scope: session.caller.scope,
        runId: run.id,
        limit: 50,
      });
      const shownNotice = notice(request);
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

    console.get('/console/runs/:id/progress', open, async (request, reply) => {
      const { run } = await runInScope(sessionOf(request).caller, (request.params as { id: string }).id);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(runProgress(run)));
    });

    console.post('/console/runs/:id/cancel', open, async (request, reply) => {
      const session = sessionOf(request);
      needs(session.caller, 'operator');
      const { run } = await runInScope(session.caller, (request.params as { id: string }).id);
      const result = await queueCall(syncQueue, timeoutMs, () =>
        cancelRun(deps, { runId: run.id, by: session.caller.name }),
      );
      request.log.info(
        { by: session.caller.name, runId: run.id, outcome: result.outcome },
        'console: run cancelled',
      );
      return reply.redirect(`/console/runs/${run.id}?done=${result.outcome}`, 303);
    });

    console.get('/console/runs/:id/approve', open, async (request, reply) => {
      const session = sessionOf(request);
      needs(session.caller, 'operator');
      const { run, tenantName } = await runInScope(session.caller, (request.params as { id: string }).id);
      if (pendingHeld(run).length === 0) return reply.redirect(`/console/runs/${run.id}`, 303);
      return send(
        reply,
        session,
        'Approve held deletes',
        approvePage({ run, tenantName, csrf: session.csrf }),
      );
    });

    console.post('/console/runs/:id/approve-deletes', open, async (request, reply) => {
      const session = sessionOf(request);
      needs(session.caller, 'operator');
      const { run, tenantName } = await runInScope(session.caller, (request.params as { id: string }).id);
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
      const result = await approveDeletes(deps, { runId: run.id, approvedBy: session.caller.name });
      request.log.info(
        { by: session.caller.name, runId: run.id, deleted: result.deleted },
        'console: held deletes approved',
      );
      return reply.redirect(`/console/runs/${run.id}?done=approved`, 303);
    });

    console.get('/console/queue', open, async (request, reply) => {
      const session = sessionOf(request);
      const state = await queueCall(syncQueue, timeoutMs, () =>
        queueState(syncQueue, { jobs: session.caller.scope === ALL_SCOPES }),
      );
      const canPause = roleAllows(session.caller.role, 'admin') && session.caller.scope === ALL_SCOPES;
      const shownNotice = notice(request);
      return send(
        reply,
        session,
        'Queue',
        html`<h1>Sync queue</h1>
          ${shownNotice ?? ''}
          <p>
            The queue is
            <b data-field="queue-state">${state.paused ? 'paused' : 'running'}</b
            >${state.paused ? ': workers take no new sync jobs; requests wait until it is resumed.' : '.'}
          </p>
          ${
            state.jobs
              ? html`<dl class="facts">
                  ${Object.entries(state.jobs).map(
                    ([k, n]) =>
                      html`<dt>${k}</dt>
                        <dd>${n}</dd>`,
                  )}
                </dl>`
              : ''
          }
          ${
            canPause
              ? html`<form
                  method="post"
                  action="/console/queue/${state.paused ? 'resume' : 'pause'}"
                  class="actions"
                >
                  <input type="hidden" name="csrf" value="${session.csrf}" /><button
                    type="submit"
                    class="${state.paused ? 'primary' : 'danger'}"
                    data-action="${state.paused ? 'resume' : 'pause'}"
                  >
                    ${state.paused ? 'Resume the queue' : 'Pause the queue'}
                  </button>
                </form>`
              : ''
          }`,
      );
    });

    for (const action of ['pause', 'resume'] as const)
      console.post(`/console/queue/${action}`, open, async (request, reply) => {
        const session = sessionOf(request);
        needs(session.caller, 'admin', true);
        const change = { paused: action === 'pause', by: session.caller.name };
        await queueCall(syncQueue, timeoutMs, () =>
          pauseSyncs({ queue: syncQueue, logger: request.log }, change),
        );
        return reply.redirect(`/console/queue?done=${action}d`, 303);
      });
  });
}
