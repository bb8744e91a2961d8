/**
 * MongoDB as the API waits for it. Every request on a route that is not public (a token is looked up
 * in MongoDB, and the routes read and write there) first asks `MongoGate.ready`, which answers within
 * the API's service timeout (M365SYNC_API_SERVICE_TIMEOUT_MS): MongoDB answered a ping, or 503
 * SERVICE_UNAVAILABLE naming MongoDB. The request itself is not started before, so a request refused
 * here cannot go through later (the driver would otherwise hold it for MONGODB_SERVER_SELECTION_TIMEOUT_MS
 * and then answer 500).
 *
 * Requests at the same moment share one ping. A ping older than the timeout is not shared any more
 * (the connection it waits on may be dead while MongoDB is back), and nothing is kept once a ping
 * settles: a failure is never remembered, so the first request after MongoDB is back goes through.
 *
 * MongoDB going away in the middle of a request (after its ping) is bounded by the driver's timeouts
 * and answered 503 too (`mongoUnavailable`, from the API's error handler), never 500.
 */
import type { Db } from 'mongodb';
import { SyncError } from '../domain/errors.js';
import { isMongoUnavailable } from '../connectors/mongo/index.js';
import { within } from './redis-calls.js';

/** 503 naming MongoDB; the driver's error (which may name the server's address) is only the cause. */
export function mongoUnavailable(timeoutMs: number, cause?: unknown): SyncError {
  return new SyncError(
    'SERVICE_UNAVAILABLE',
    `The database (MongoDB) does not answer${cause === undefined ? ` within ${timeoutMs} ms` : ''}: try again once GET /readyz answers 200.`,
    cause === undefined ? {} : { cause },
  );
}

export { isMongoUnavailable };

export class MongoGate {
  private ping: { startedAt: number; answered: Promise<unknown> } | undefined;

  constructor(
    private readonly db: Pick<Db, 'command'>,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once MongoDB answers a ping; rejects with SERVICE_UNAVAILABLE after the timeout. */
  async ready(): Promise<void> {
    const now = Date.now();
    let ping = this.ping;
    if (!ping || now - ping.startedAt >= this.timeoutMs) {
      const started = { startedAt: now, answered: this.db.command({ ping: 1 }) };
      const forget = () => {
        if (this.ping === started) this.ping = undefined;
      };
      started.answered.then(forget, forget);
      this.ping = ping = started;
    }
    try {
      await within(ping.answered, this.timeoutMs, () => mongoUnavailable(this.timeoutMs));
    } catch (error) {
      if (isMongoUnavailable(error)) throw mongoUnavailable(this.timeoutMs, error);
      throw error;
    }
  }
}
