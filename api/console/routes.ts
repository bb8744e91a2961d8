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
 *
 * This file is the plugin (the hooks, the error pages, the assets); each page's routes and actions are
 * in a file of their own: sign-in-routes.ts, fleet-routes.ts, tenant-routes.ts, run-routes.ts,
 * queue-routes.ts, given what they share by context.ts.
 */
import type { FastifyInstance } from 'fastify';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { ApiRefusal, sameOrigin } from '../access.js';
import { CONSOLE_CSS, LIVE_JS } from './assets.js';
import {
  CONSOLE_ROUTE,
  consoleContext,
  cookieOf,
  SESSION_COOKIE,
  type ConsoleOptions,
  type Form,
} from './context.js';
import { FleetSnapshots } from './fleet.js';
import { registerFleetRoutes } from './fleet-routes.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { registerQueueRoutes } from './queue-routes.js';
import { registerRunRoutes } from './run-routes.js';
import { csrfMatches } from './sessions.js';
import { registerSignInRoutes } from './sign-in-routes.js';
import { registerTenantRoutes } from './tenant-routes.js';

export type { ConsoleOptions } from './context.js';

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

/** How long the API's start waits for the console's first read of the fleet. */
const FIRST_READ_WAIT_MS = 15_000;

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const context = consoleContext(options);
  const { sessions } = context;
  const snapshots = new FleetSnapshots(options.stores);
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
    console.decorateRequest('consoleSession', null);
    console.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16_384 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

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
    console.get('/console/*', CONSOLE_ROUTE, async (request) => {
      throw new SyncError('NOT_FOUND', `No console page ${request.url.split('?')[0]}.`);
    });

    console.get('/console/assets/console.css', CONSOLE_ROUTE, async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(CONSOLE_CSS),
    );
    console.get('/console/assets/live.js', CONSOLE_ROUTE, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=300').send(LIVE_JS),
    );

    registerSignInRoutes(console, context);
    registerFleetRoutes(console, context, snapshots);
    registerTenantRoutes(console, context);
    registerRunRoutes(console, context);
    registerQueueRoutes(console, context);
  });
}
