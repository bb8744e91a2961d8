/**
 * Signing in and out: a token pasted into the sign-in form starts a session (a cookie of the console's
 * path only, HttpOnly, SameSite=Strict); refused tokens are counted per client address and, past the
 * limit, the form answers 429 without looking the token up. Signing out ends the session in Redis.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { page } from './layout.js';
import { SESSION_TTL_SECONDS } from './sessions.js';
import { signInPage } from './sign-in-page.js';
import { CONSOLE_ROUTE, cookieOf, SESSION_COOKIE, type ConsoleContext, type Form } from './context.js';

export function registerSignInRoutes(console: FastifyInstance, context: ConsoleContext): void {
  const { options, sessions } = context;
  const signInLimit = options.failedSignInLimit ?? { max: 10, timeWindowMs: 60_000 };
  const failedSignIns = console.createRateLimit({
    max: signInLimit.max,
    timeWindow: signInLimit.timeWindowMs,
    keyGenerator: (request: FastifyRequest) => `console-sign-in:${request.ip}`,
  });

  console.get('/console/sign-in', CONSOLE_ROUTE, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(page({ title: 'Sign in', body: signInPage() })),
  );
  console.post('/console/sign-in', CONSOLE_ROUTE, async (request, reply) => {
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
  console.post('/console/sign-out', CONSOLE_ROUTE, async (request, reply) => {
    await sessions.end(cookieOf(request, SESSION_COOKIE));
    return reply
      .header('set-cookie', `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`)
      .redirect('/console/sign-in', 303);
  });
}
