import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphLimiter, createGraphLimiters } from '../../../connectors/graph/limiter.js';
import { SyncError } from '../../../domain/errors.js';
import { silentServer } from '../../support/silent-server.js';
import { eventually } from '../../support/eventually.js';

/**
 * A run told to stop (cancelled, its lease lapsing, Redis silent) must not stay in a Graph limiter's
 * wait: the wait ends with the run's reason at once, and the request it waited to make is never sent.
 */
describe('Graph limits heed the run’s signal', () => {
  let silent: Awaited<ReturnType<typeof silentServer>>;
  beforeAll(async () => {
    silent = await silentServer();
  });
  afterAll(async () => {
    await silent.close();
  });

  const stopped = () => new SyncError('CANCELLED', 'the run was told to stop');

  it('a request waiting behind the tenant’s concurrency gives up, and is never sent', async () => {
    const limiter = createGraphLimiter('tenant-busy', undefined, {
      maxConcurrent: 1,
      requestsPerSecond: 1000,
    });
    let release!: () => void;
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const first = limiter.schedule(
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve('first');
          running();
        }),
    );
    await started;
    const stop = new AbortController();
    let sent = 0;
    const second = limiter.schedule(async () => {
      sent++;
      return 'second';
    }, stop.signal);
    const reason = stopped();
    stop.abort(reason);
    await expect(second).rejects.toBe(reason);
    release();
    await expect(first).resolves.toBe('first');
    // The limiter lets the abandoned request through later: it is refused there, not sent.
    await limiter.schedule(async () => undefined);
    expect(sent).toBe(0);
    await limiter.close();
  });

  it('a request waiting for the application’s budget gives up', async () => {
    const limits = createGraphLimiters({ tenantId: 'tenant-app', clientId: 'app-spent' }, undefined, {
      appRequestsPerWindow: 1,
      appWindowMs: 60_000,
    });
    await limits.schedule(async () => 'the budget of this window');
    const stop = new AbortController();
    const waiting = limits.schedule(async () => 'not before the next window', stop.signal);
    const reason = stopped();
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await limits.close();
  });

  it('a request waiting on a limiter whose Redis never answers gives up', async () => {
    const redis = new Redis(silent.url, { maxRetriesPerRequest: null, lazyConnect: false });
    redis.on('error', () => undefined);
    const limits = createGraphLimiters({ tenantId: 'tenant-cut', clientId: 'app-cut' }, redis, {
      keyPrefix: 'limiter-abort',
    });
    const stop = new AbortController();
    let sent = 0;
    const waiting = limits.schedule(async () => {
      sent++;
    }, stop.signal);
    // The limiter has reached its Redis, which will never answer: the request waits on it.
    await eventually(async () => silent.connections() > 0);
    const reason = stopped();
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(sent).toBe(0);
    redis.disconnect();
    await Promise.race([limits.close(), new Promise((resolve) => setTimeout(resolve, 500))]);
  });
});
