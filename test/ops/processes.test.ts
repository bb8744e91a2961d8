/**
 * The worker process with Redis away: its /health answers (503) instead of nothing, and the Graph
 * rate limiter's Redis connection reports errors through the log instead of ioredis's
 * "Unhandled error event" on every retry.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';
import { freePort, start, until, type RunningProcess } from './support/processes.js';

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
    expect(health).toEqual({ status: 503, body: { status: 'unavailable' } });
    await until('the rate limiter to log its Redis error', async () =>
      worker!.output().includes('rate-limiter Redis connection error') ? true : undefined,
    );
    expect(worker.output()).not.toContain('Unhandled error event');
    expect(worker.exited).toBeInstanceOf(Promise);
    expect(worker.child.exitCode).toBeNull(); // still running, waiting for Redis
  });
});
