/**
 * The worker process with Redis away: its /health answers (503, naming Redis) instead of nothing,
 * and the Graph rate limiter's Redis connection reports errors through the log instead of ioredis's
 * "Unhandled error event" on every retry. The worker and the scheduler with MongoDB away (a TCP proxy
 * in front of the suite's MongoDB, refusing): /health says 503 naming MongoDB, and 200 again once
 * MongoDB answers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo } from '../support/services.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { freePort } from '../../scripts/free-port.js';
import { start, until, type RunningProcess } from './support/processes.js';

let mongo: TestMongo | undefined;
let worker: RunningProcess | undefined;
afterAll(async () => {
  await worker?.stop();
  await mongo?.close();
});

describe('m365sync worker without Redis', () => {
  it('answers /health with 503 and logs Redis errors (no unhandled error events)', async () => {
    mongo = await testMongo('redis-away');
    const port = await freePort();
    worker = start(['worker'], {
      MONGODB_URI: testEnv().mongoUri,
      M365SYNC_DB: mongo.db.databaseName,
      M365SYNC_ENCRYPTION_KEYS: keyEntry('away'),
      REDIS_URL: 'redis://127.0.0.1:1',
      M365SYNC_METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    const health = await until('the worker to answer /health', async () => {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      return { status: response.status, body: await response.json() };
    });
    expect(health).toEqual({
      status: 503,
      body: {
        status: 'unavailable',
        checks: { mongodb: 'ok', redis: expect.stringMatching(/^unreachable/) },
      },
    });
    await until('the rate limiter to log its Redis error', async () =>
      worker!.output().includes('rate-limiter Redis connection error') ? true : undefined,
    );
    expect(worker.output()).not.toContain('Unhandled error event');
    expect(worker.exited).toBeInstanceOf(Promise);
    expect(worker.child.exitCode).toBeNull(); // still running, waiting for Redis
  });
});

describe.each(['worker', 'scheduler'])('m365sync %s with MongoDB away', (command) => {
  it('answers /health with 503 naming MongoDB (while /livez stays 200), and 200 again once MongoDB answers', async () => {
    const db = await testMongo(`${command}-mongo-away`);
    const redis = await testRedis(`${command}-mongo-away`);
    const target = new URL(testEnv().mongoUri);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const port = await freePort();
    const child = start([command], {
      MONGODB_URI: proxy.url('mongodb'),
      M365SYNC_DB: db.db.databaseName,
      M365SYNC_ENCRYPTION_KEYS: keyEntry('away'),
      REDIS_URL: redis.url,
      M365SYNC_QUEUE_PREFIX: redis.prefix,
      M365SYNC_METRICS_PORT: String(port),
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    const health = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      return { status: response.status, body: (await response.json()) as unknown };
    };
    try {
      await until(`the ${command} to be healthy`, async () =>
        (await health()).status === 200 ? true : undefined,
      );
      expect((await health()).body).toEqual({ status: 'ok', checks: { mongodb: 'ok', redis: 'ok' } });

      await proxy.setMode('refuse');
      const away = await until('/health to say MongoDB is away', async () => {
        const answer = await health();
        return answer.status === 503 ? answer : undefined;
      });
      expect(away.body).toEqual({
        status: 'unavailable',
        checks: { mongodb: expect.stringMatching(/^unreachable/), redis: 'ok' },
      });
      expect(JSON.stringify(away.body)).not.toContain(String(proxy.port));
      // Liveness stays good: restarting the process would not bring MongoDB back.
      const live = await fetch(`http://127.0.0.1:${port}/livez`);
      expect({ status: live.status, body: await live.json() }).toEqual({
        status: 200,
        body: { status: 'ok' },
      });

      await proxy.setMode('forward');
      await until('/health to be 200 again', async () =>
        (await health()).status === 200 ? true : undefined,
      );
      expect(child.child.exitCode).toBeNull();
    } finally {
      await child.stop();
      await proxy.close();
      await redis.close();
      await db.close();
    }
  });
});
