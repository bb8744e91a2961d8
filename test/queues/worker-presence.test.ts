/**
 * Whether a sync worker is connected to the queue, as BullMQ sees it in Redis: none, then one that
 * starts, then none again when it closes. Real Redis, a real BullMQ worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { connectedWorkers, watchWorkers } from '../../queues/worker-presence.js';
import type { SyncWorker } from '../../workers/worker.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { testProcessor } from '../workers/support/test-processor.js';
import {
  eventually,
  fastQueue,
  fastWorker,
  quietLogger,
  startTestWorker,
  sweepFreely,
} from '../workers/support/harness.js';

describe('sync workers connected to the queue', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue<SyncJobData, unknown, string>;
  let worker: SyncWorker | undefined;
  beforeAll(async () => {
    redis = await testRedis('workerpresence');
    mongo = await testMongo('workerpresence');
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  });
  afterAll(async () => {
    await worker?.close(1000);
    await queue.close();
    await redis.close();
    await mongo.close();
  });

  it('are counted, and a watch tells when the first starts and the last goes away', async () => {
    expect(await connectedWorkers(queue)).toBe(0);
    const seen: number[] = [];
    const watch = watchWorkers(queue, (count) => seen.push(count), { intervalMs: 100 });
    try {
      await eventually(async () => seen.length === 1);
      expect(seen).toEqual([0]);

      worker = await startTestWorker({
        redis: { url: redis.url, prefix: redis.prefix },
        db: mongo.db,
        processor: testProcessor(mongo.db, { pages: 1, pageSize: 1, delayMs: 0, version: 'v1' }),
        settings: fastWorker,
        deleteThresholds: sweepFreely,
        queueSettings: fastQueue,
        logger: quietLogger,
      });
      expect(await connectedWorkers(queue)).toBeGreaterThan(0);
      await eventually(async () => seen.length === 2);
      expect(seen[1]).toBeGreaterThan(0);

      await worker.close(1000);
      worker = undefined;
      expect(await connectedWorkers(queue)).toBe(0);
      await eventually(async () => seen.length === 3);
      expect(seen[2]).toBe(0);
    } finally {
      watch.stop();
    }
  });
});
