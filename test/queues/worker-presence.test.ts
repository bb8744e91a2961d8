/**
 * Whether a sync worker is connected to the queue, as BullMQ sees it in Redis: none, then one that
 * starts, then none again when it closes. Real Redis, a real BullMQ worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedWorkers, watchWorkers } from '../../queues/worker-presence.js';
import type { SyncWorker } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from './support/queue-fixture.js';
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
  let fx: QueueFixture;
  let worker: SyncWorker | undefined;
  beforeAll(async () => {
    fx = await queueFixture('workerpresence');
  });
  afterAll(async () => {
    await worker?.close(1000);
    await fx.close();
  });

  it('are counted, and a watch tells when the first starts and the last goes away', async () => {
    const { db, queue, redisConfig } = fx;
    expect(await connectedWorkers(queue)).toBe(0);
    const seen: number[] = [];
    const watch = watchWorkers(queue, (count) => seen.push(count), { intervalMs: 100 });
    try {
      await eventually(async () => seen.length === 1);
      expect(seen).toEqual([0]);

      worker = await startTestWorker({
        redis: redisConfig,
        db,
        processor: testProcessor(db, { pages: 1, pageSize: 1, delayMs: 0, version: 'v1' }),
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
