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
import { ignoreBecause } from '../domain/ignored-failure.js';

export interface RedisWatchOptions<Client> {
  /** One round trip to Redis on the client attached (the worker's own connection). */
  ping(client: Client): Promise<unknown>;
  /** How often to ping. */
  everyMs: number;
  /** How long Redis may stay silent before `onSilent` (half the job lock's duration). */
  silentLimitMs: number;
  /** Called once per silence (again only after Redis answered in between). */
  onSilent(): void;
  logger: Logger;
  clock?: Clock;
}

export interface RedisWatch<Client> {
  /**
   * The connection to ping, once it is ready: the pings start, and the silence is counted, from here.
   * (The worker makes the watch before the BullMQ worker whose connection it pings.)
   */
  attach(client: Client): void;
  /** Redis answered something else (the worker fetched a job): it is not silent. */
  answered(): void;
  stop(): void;
}

export function watchRedis<Client>(options: RedisWatchOptions<Client>): RedisWatch<Client> {
  const clock = options.clock ?? systemClock;
  let answeredAt = clock.now();
  let reported = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = (client: Client) => {
    const silentFor = clock.now() - answeredAt;
    if (silentFor >= options.silentLimitMs && !reported) {
      reported = true;
      options.logger.warn(
        { silentForMs: silentFor },
        'Redis has not answered for half the job lock; stopping runs',
      );
      options.onSilent();
    }
    // A ping every tick, whatever the earlier ones do: one that hangs on a connection lost in a
    // failover must not keep the next, on the new connection, from being sent.
    options.ping(client).then(
      () => {
        answeredAt = Math.max(answeredAt, clock.now());
        if (reported) options.logger.info('Redis answers again');
        reported = false;
      },
      // Not logged: it fails at every tick while Redis is away, and the silence is warned of once.
      ignoreBecause('an unanswered ping is the silence the next tick measures'),
    );
  };
  const answered = () => {
    answeredAt = Math.max(answeredAt, clock.now());
    reported = false;
  };
  return {
    attach: (client) => {
      if (stopped || timer) return;
      answered();
      timer = setInterval(() => tick(client), options.everyMs);
      timer.unref();
    },
    answered,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
