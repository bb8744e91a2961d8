/**
 * What every console route is given (api/console/routes.ts makes it once): the console's options and
 * settings, its sessions, and the few steps every page's routes share: answer with a page in the
 * console's frame, the notice a redirect asked for (`?done=`), the caller's session, the role check.
 */
import type { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Stores } from '../../connectors/mongo/index.js';
import { ALL_SCOPES, roleAllows, type Caller, type Role } from '../../domain/access.js';
import { DEFAULT_SETTINGS, type Settings } from '../../domain/settings.js';
import type { ConnectionCheckResult } from '../../operations/index.js';
import type { SyncJobData } from '../../queues/sync-queue.js';
import { ApiRefusal, type Authentication } from '../access.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { ConsoleSessions, type ConsoleSession } from './sessions.js';

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

/** Every console route's options: the access `console` (api/access.ts), and not in the OpenAPI document. */
export const CONSOLE_ROUTE = { config: { access: 'console' as const }, schema: { hide: true } };

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session of the request (console routes that need one). */
    consoleSession: ConsoleSession | null;
  }
}

/** A posted form (or a query string) as the console reads it. */
export type Form = Record<string, string | undefined>;

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** The role an action needs (the API's route's role), and for a queue-wide one the scope `*`: else 403. */
export function needs(caller: Caller, role: Role, allScopes = false): void {
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

export interface ConsoleContext {
  options: ConsoleOptions;
  settings: Settings;
  sessions: ConsoleSessions;
  /** Answers with a page in the console's frame (the caller's name, the sign-out form). */
  send: (
    reply: FastifyReply,
    session: ConsoleSession,
    title: string,
    body: Html,
    status?: number,
  ) => FastifyReply;
  /** The request's session (the console's hook has set it on every route that needs one). */
  sessionOf: (request: FastifyRequest) => ConsoleSession;
  /** What the action that redirected here did (`?done=`), in words; none for a value it does not know. */
  notice: (request: FastifyRequest) => Html | undefined;
}

export function consoleContext(options: ConsoleOptions): ConsoleContext {
  return {
    options,
    settings: options.settings ?? DEFAULT_SETTINGS,
    sessions: new ConsoleSessions(options.syncQueue, options.authentication, options.timeoutMs),
    send: (reply, session, title, body, status = 200) =>
      reply
        .status(status)
        .type('text/html; charset=utf-8')
        .send(page({ title, caller: session.caller, csrf: session.csrf, body })),
    sessionOf: (request) => request.consoleSession!,
    notice: (request) => {
      const done = (request.query as Form).done;
      return done && NOTICES[done] ? html`<p class="notice" role="status">${NOTICES[done]}</p>` : undefined;
    },
  };
}
