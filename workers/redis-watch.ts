/**
 * Whether this worker still reaches Redis, from pings of its own.
 *
 * A worker cut off from Redis cannot renew its jobs' locks, and BullMQ tells it so
 * (`lockRenewalFailed`) only once Redis answers again. Meanwhile the lock lapses in Redis, another
 * worker takes the job, and finds the tenant's lease still held: the cut-off run keeps renewing it in
 * MongoDB while it cannot progress (Graph paging and the PowerShell kinds wait on Redis), and holds
 * the tenant hostage until the cut heals. So the worker pings Redis; once no ping has been answered
 * for `silentLimitMs` (the worker passes half the lock's duration: the lock, extended every half of
 * it, may lapse that soon after the last answer), `onSilent` stops its runs: they end, record why, and release their leases, so another worker can
 * finish the tenant.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../domain/clock.js';

export interface RedisWatchOptions {
  /** One round trip to Redis (a PING on the worker's own connection). */
  ping(): Promise<unknown>;
  /** How often to ping. */
  everyMs: number;
  /** How long Redis may stay silent before `onSilent` (half the job lock's duration). */
  silentLimitMs: number;
  /** Called once per silence (again only after Redis answered in between). */
  onSilent(): void;
  logger: Logger;
  clock?: Clock;
}

export interface RedisWatch {
  /** Redis answered something else (the worker fetched a job): it is not silent. */
  answered(): void;
  stop(): void;
}

export function watchRedis(o: RedisWatchOptions): RedisWatch {
  const clock = o.clock ?? systemClock;
  let answeredAt = clock.now();
  let reported = false;
  const tick = () => {
    const silentFor = clock.now() - answeredAt;
    if (silentFor >= o.silentLimitMs && !reported) {
      reported = true;
      o.logger.warn(
        { silentForMs: silentFor },
        'Redis has not answered for half the job lock; stopping runs',
      );
      o.onSilent();
    }
    // A ping every tick, whatever the earlier ones do: one that hangs on a connection lost in a
    // failover must not keep the next, on the new connection, from being sent.
    o.ping().then(
      () => {
        answeredAt = Math.max(answeredAt, clock.now());
        if (reported) o.logger.info('Redis answers again');
        reported = false;
      },
      () => undefined,
    );
  };
  const timer = setInterval(tick, o.everyMs);
  timer.unref();
  return {
    answered: () => {
      answeredAt = Math.max(answeredAt, clock.now());
      reported = false;
    },
    stop: () => clearInterval(timer),
  };
}
