/**
 * Console sessions. Signing in trades an API token, checked as the API checks a Bearer token, for a
 * random session id in an HttpOnly, SameSite=Strict cookie. Redis keeps, under the SHA-256 of that id
 * (a copy of Redis gives no usable cookie) and with its expiry as the key's TTL, only the SHA-256 of
 * the token (what `api_tokens` stores already) and the session's anti-forgery token. Every request
 * looks the token up again by that hash, so revoking the token ends its sessions at once.
 *
 * Redis rather than MongoDB: the expiry is the key's own TTL (no sweeper, no index FerretDB would
 * scan), and a session costs no MongoDB write. Keys live under the sync queue's prefix
 * (`<prefix>:tenant-sync:console-session:<sha256>`); every call is bounded by the API's Redis timeout.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queue } from 'bullmq';
import { hashToken, type Caller } from '../../domain/access.js';
import { BOOTSTRAP_CALLER, DEV_NO_AUTH_CALLER, type Authentication } from '../access.js';
import { queueCall } from '../redis-calls.js';

/** How long a session lasts from sign-in (a working day); signing out ends it sooner. */
export const SESSION_TTL_SECONDS = 8 * 3600;

export interface ConsoleSession {
  caller: Caller;
  /** The anti-forgery token every POST of this session carries (a hidden form field). */
  csrf: string;
}

interface SessionRecord {
  tokenHash: string;
  csrf: string;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

export class ConsoleSessions {
  constructor(
    private readonly queue: Queue,
    private readonly authentication: Authentication,
    private readonly timeoutMs: number,
  ) {}

  private key(sessionId: string): string {
    return this.queue.toKey(`console-session:${sha256(sessionId)}`);
  }

  private redis<T>(call: (client: Awaited<Queue['backend']['client']>) => Promise<T>): Promise<T> {
    return queueCall(this.queue, this.timeoutMs, async () => call(await this.queue.backend.client));
  }

  /** The caller a token signs in as, checked as the API checks a Bearer token; null when refused. */
  async callerOfToken(token: string): Promise<Caller | null> {
    return this.callerOfHash(hashToken(token));
  }

  private async callerOfHash(hash: string): Promise<Caller | null> {
    const auth = this.authentication;
    if ('insecureDevNoAuth' in auth) return DEV_NO_AUTH_CALLER;
    if (auth.bootstrapToken) {
      const bootstrap = Buffer.from(hashToken(auth.bootstrapToken), 'hex');
      const given = Buffer.from(hash, 'hex');
      if (given.length === bootstrap.length && timingSafeEqual(given, bootstrap)) return BOOTSTRAP_CALLER;
    }
    return auth.tokens.authenticateHash(hash);
  }

  /** Starts a session for a checked token; returns the cookie's value (the session id). */
  async start(token: string): Promise<string> {
    const sessionId = randomBytes(32).toString('base64url');
    const record: SessionRecord = {
      tokenHash: hashToken(token),
      csrf: randomBytes(32).toString('base64url'),
    };
    await this.redis((client) =>
      client.set(this.key(sessionId), JSON.stringify(record), { EX: SESSION_TTL_SECONDS }),
    );
    return sessionId;
  }

  /** The session of a cookie, its token checked again (a revoked token has no session); else null. */
  async resume(sessionId: string | undefined): Promise<ConsoleSession | null> {
    if (!sessionId || !/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return null;
    const text = await this.redis((client) => client.get(this.key(sessionId)));
    if (!text) return null;
    const record = JSON.parse(text) as SessionRecord;
    const caller = await this.callerOfHash(record.tokenHash);
    return caller ? { caller, csrf: record.csrf } : null;
  }

  async end(sessionId: string | undefined): Promise<void> {
    if (!sessionId || !/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return;
    await this.redis((client) => client.del(this.key(sessionId)));
  }
}

/** Whether a posted anti-forgery token is the session's (compared in constant time). */
export function csrfMatches(session: ConsoleSession, posted: unknown): boolean {
  if (typeof posted !== 'string') return false;
  const a = Buffer.from(posted);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
