/**
 * Access control of the operator API, in the order a request meets it: the Host header must name
 * this API (a DNS-rebinding page cannot drive it), the bearer token must be a stored one (or the
 * bootstrap token), its role must allow the route, a body-carrying method must send JSON (a
 * cross-site form cannot), and each token has its own rate limit. Failed sign-ins are limited per
 * client address, checked before the token is looked up in MongoDB. Scopes are applied by the routes
 * themselves, by passing the caller's scope to the stores (a tenant outside it is "not found").
 *
 * Every route declares its access in `config.access`; building the API fails on a route that does
 * not, so a new route cannot be left open by forgetting.
 */
import type { Settings } from '../domain/settings.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiTokenStore } from '../connectors/mongo/index.js';
import { ALL_SCOPES, roleAllows, type Caller, type Role } from '../domain/access.js';
import { SyncError } from '../domain/errors.js';

/**
 * `public`: anyone who reaches the API (health, metrics); otherwise the role a token needs, whether
 * its scope must be `*` (settings that apply to every tenant), and whether a browser opens it
 * (`browser`: the queue board). A browser sends no Bearer header, so on those routes the token may
 * also come as the password of HTTP Basic (a refusal asks for it, and the browser prompts); since a
 * browser then sends it by itself on any request to the API, a request that changes something must
 * come from the API's own pages (its Origin is the API), and the pages may not be framed.
 *
 * `console`: the operator console's pages (api/console/), which sign in with a session cookie, not a
 * token per request: this hook checks only the Host; the console's own hook checks the session, the
 * role, the anti-forgery token and the Origin (api/console/routes.ts). Not in the route table of the
 * JSON API (nor in its OpenAPI document): its access is tested in test/console/.
 */
export type RouteAccess = 'public' | 'console' | { needs: Role; allScopes?: boolean; browser?: boolean };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Who is calling; null on public routes. */
    caller: Caller | null;
  }
}

/** A refusal by the API itself, answered as `{ code, message }` with its status. */
export class ApiRefusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRefusal';
  }
}

export type Authentication =
  | { tokens: ApiTokenStore; bootstrapToken?: string }
  /** `m365sync api --insecure-dev-no-auth`: every request acts as an unscoped admin. Loopback only. */
  | { insecureDevNoAuth: true };

export interface AccessOptions {
  authentication: Authentication;
  /** Host names (without port) this API answers to; see apiHostNames. */
  allowedHosts: readonly string[];
  /** Requests per token per window (default 600 per minute). */
  rateLimit?: { max: number; timeWindowMs: number };
  /**
   * Requests with a token that does not sign in, per client address per window (default 60 per
   * minute); past it the address is refused before any token look-up until the window ends.
   */
  failedAuthLimit?: { max: number; timeWindowMs: number };
  /**
   * The access of routes a plugin declares without one, by URL: the documentation's, the queue
   * board's pages, files and calls.
   */
  accessByUrl?: (url: string) => RouteAccess | undefined;
  /**
   * Runs before a token is looked up on a route that is not public, and refuses the request by
   * throwing (the MongoDB gate: 503 within the service timeout instead of a look-up that hangs).
   */
  ready?: () => Promise<void>;
}

export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
}

export const BOOTSTRAP_CALLER: Caller = {
  id: 'bootstrap',
  name: 'bootstrap',
  role: 'admin',
  scope: ALL_SCOPES,
};
export const DEV_NO_AUTH_CALLER: Caller = {
  id: 'dev-no-auth',
  name: 'dev-no-auth',
  role: 'admin',
  scope: ALL_SCOPES,
};

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_BINDS = ['0.0.0.0', '::', '[::]'];

/**
 * The host names the API answers to: the loopback names, the address it binds (unless that is a
 * wildcard) and the comma-separated M365SYNC_API_HOSTNAMES (the names clients use: `api`,
 * `m365sync.example.net`, …).
 */
export function apiHostNames(settings: Pick<Settings, 'M365SYNC_API_HOSTNAMES'>, bindHost: string): string[] {
  const names = new Set(LOOPBACK_NAMES);
  if (!WILDCARD_BINDS.includes(bindHost))
    names.add(normalHost(bindHost.includes(':') ? `[${bindHost}]` : bindHost));
  for (const name of (settings.M365SYNC_API_HOSTNAMES ?? '').split(','))
    if (name.trim()) names.add(normalHost(name));
  return [...names];
}

function normalHost(name: string): string {
  return name.trim().toLowerCase();
}

/** The host name of a Host header, without its port: `[::1]:8080` → `[::1]`, `api:8080` → `api`. */
export function hostOfHeader(header: string): string {
  const host = normalHost(header);
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

const BODY_METHODS = ['POST', 'PUT', 'PATCH'];

/** Installs the checks on `app`; call before any route is declared. Returns the route table it keeps. */
export function registerAccessControl(app: FastifyInstance, options: AccessOptions): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const declared = route.config?.access;
    const access = declared ?? options.accessByUrl?.(route.url);
    if (access !== undefined) route.config = { ...route.config, access };
    // A plugin's own error handler would answer our refusals in its shape (without the challenge), and
    // the `ready` gate's 503 as a 500.
    if (declared === undefined && access !== undefined)
      route.errorHandler = (error, request, reply) => {
        if (error instanceof ApiRefusal) return sendRefusal(request, reply, error);
        if (error instanceof SyncError && error.code === 'SERVICE_UNAVAILABLE')
          return reply.status(503).send({ code: error.code, message: error.message });
        throw error;
      };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (access === undefined)
      throw new Error(
        `API route ${methods.join(',')} ${route.url} declares no access (config.access): every route says who may call it.`,
      );
    if (access !== 'console')
      for (const method of methods) if (method !== 'HEAD') routes.push({ method, url: route.url, access });
  });

  const allowedHosts = new Set(options.allowedHosts.map(normalHost));
  const authenticate = authenticator(options.authentication);
  const failedLimit = options.failedAuthLimit ?? { max: 60, timeWindowMs: 60_000 };
  // Made on first use: the rate-limit plugin registered below decorates the app once it loads.
  let failedSignIns: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  const failures = () =>
    (failedSignIns ??= app.createRateLimit({
      max: failedLimit.max,
      timeWindow: failedLimit.timeWindowMs,
      keyGenerator: (request: FastifyRequest) => `failed-sign-in:${request.ip}`,
    }));
  app.decorateRequest('caller', null);

  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host;
    if (!host || !allowedHosts.has(hostOfHeader(host)))
      throw new ApiRefusal(
        421,
        'HOST_NOT_ALLOWED',
        'This API does not answer to that host name; the operator lists the names clients use in M365SYNC_API_HOSTNAMES.',
      );

    const access = request.routeOptions.config?.access;
    if (access === 'public' || access === 'console') return;
    const browser = access?.browser === true;
    // An address that has failed to sign in too often is refused before its token is looked up:
    // guessing tokens costs a MongoDB query each, and nothing is learnt from the answer anyway.
    const past = await failures()(request, { increment: false });
    if (!past.isAllowed && past.remaining === 0) {
      void reply.header('retry-after', String(past.ttlInSeconds));
      throw new ApiRefusal(
        429,
        'RATE_LIMITED',
        `Too many requests with a token that does not sign in from this address (at most ${failedLimit.max} per ${failedLimit.timeWindowMs / 1000} s); retry in ${past.ttlInSeconds} s.`,
      );
    }
    await options.ready?.();
    // Unknown routes (404) need a valid token too, so they tell nothing to strangers.
    const caller = await authenticate(request, browser).catch(async (error: unknown) => {
      // Only a token that was sent and refused counts; a request without one looked nothing up.
      if (error instanceof ApiRefusal && error.statusCode === 401 && request.headers.authorization)
        await failures()(request);
      throw error;
    });
    request.caller = caller;
    if (access && !roleAllows(caller.role, access.needs))
      throw new ApiRefusal(
        403,
        'PERMISSION',
        `This token's role (${caller.role}) may not do this: it needs the ${access.needs} role.`,
      );
    if (access && access.allScopes && caller.scope !== ALL_SCOPES)
      throw new ApiRefusal(
        403,
        'PERMISSION',
        `This changes a setting of every tenant: it needs a token whose scope is ${ALL_SCOPES}.`,
      );

    if (browser) {
      // A cross-site form or script cannot send JSON, nor a Bearer header, but a browser adds Basic
      // credentials it remembers to any request: changes must come from the board's own pages.
      if (!SAFE_METHODS.includes(request.method) && basicCredentials(request) && !sameOrigin(request))
        throw new ApiRefusal(
          403,
          'PERMISSION',
          `${request.method} with browser credentials must come from this API's own pages (Origin ${request.headers.host}).`,
        );
    } else if (BODY_METHODS.includes(request.method)) {
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json')
        throw new ApiRefusal(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `${request.method} needs a JSON body with Content-Type: application/json (send {} when there is nothing to say).`,
        );
    }
  });

  const limit = options.rateLimit ?? { max: 600, timeWindowMs: 60_000 };
  void app.register(rateLimit, {
    // After the onRequest checks, so the key is the token that was checked, not an address.
    hook: 'preHandler',
    max: limit.max,
    timeWindow: limit.timeWindowMs,
    keyGenerator: (request: FastifyRequest) =>
      request.caller ? `token:${request.caller.id}` : `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) =>
      new ApiRefusal(
        429,
        'RATE_LIMITED',
        `Too many requests with this token (at most ${context.max} per ${limit.timeWindowMs / 1000} s); retry in ${context.after}.`,
      ),
  });
  return routes;
}

function authenticator(
  authentication: Authentication,
): (request: FastifyRequest, browser: boolean) => Promise<Caller> {
  if ('insecureDevNoAuth' in authentication) return async () => DEV_NO_AUTH_CALLER;
  const bootstrap = authentication.bootstrapToken ? digest(authentication.bootstrapToken) : undefined;
  return async (request, browser) => {
    const header = request.headers.authorization ?? '';
    const token =
      /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)?.[1] ?? (browser ? basicCredentials(request) : undefined);
    if (!token)
      throw new ApiRefusal(
        401,
        'AUTHENTICATION',
        browser
          ? 'Sign in with any user name and an admin token as the password (an admin makes one with m365sync tokens create).'
          : 'Send Authorization: Bearer <token> (an admin makes one with m365sync tokens create).',
      );
    if (bootstrap && timingSafeEqual(digest(token), bootstrap)) return BOOTSTRAP_CALLER;
    const caller = await authentication.tokens.authenticate(token);
    if (!caller) throw new ApiRefusal(401, 'AUTHENTICATION', 'The token is unknown or revoked.');
    return caller;
  };
}

const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** The password of an `Authorization: Basic` header (the user name is not used), or undefined. */
function basicCredentials(request: FastifyRequest): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return decoded.includes(':') && /^[\x21-\x7e]{1,512}$/.test(password) ? password : undefined;
}

/** The request comes from a page of this API: its Origin names the Host it was sent to. */
export function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  if (!origin || !request.headers.host) return false;
  try {
    return new URL(origin).host === request.headers.host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Answers a refusal as `{ code, message }`; a 401 says how to sign in: Bearer, or Basic on a route a
 * browser opens (the browser then asks for the token).
 */
export function sendRefusal(request: FastifyRequest, reply: FastifyReply, error: ApiRefusal): FastifyReply {
  if (error.statusCode === 401) {
    const access = request.routeOptions.config?.access;
    const browser = typeof access === 'object' && access.browser === true;
    void reply.header('www-authenticate', browser ? 'Basic realm="m365sync", charset="UTF-8"' : 'Bearer');
  }
  return reply.status(error.statusCode).send({ code: error.code, message: error.message });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The caller of a route that is not public (set by the access hook before any handler runs). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error('route reached without a caller: its access is not declared');
  return request.caller;
}
