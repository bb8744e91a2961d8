/**
 * Pausing and resuming all syncs (operations/pause-syncs.ts) on a real queue: paused, a worker takes
 * no sync job and requests wait; resumed, the waiting request is taken. Each change is logged with who
 * made it; a bad actor name is refused and changes nothing.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue, Worker } from 'bullmq';
import { pauseSyncs } from '../../operations/index.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { handWorker } from '../queues/support/queue-fixture.js';
import { testRedis, type TestRedis } from '../support/services.js';

describe('pausing and resuming syncs', () => {
  let redis: TestRedis;
  let queue: Queue<SyncJobData, unknown, string>;
  /** A worker without a processor: the test asks it for the next job by hand. */
  let worker: Worker<SyncJobData, unknown, string>;
  /** What the operation logged, one parsed pino line each. */
  const logged: { by?: string; msg: string; level: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });

  beforeAll(async () => {
    redis = await testRedis('op_pause');
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    worker = handWorker({ url: redis.url, prefix: redis.prefix });
  });
  afterAll(async () => {
    await worker.close();
    await queue.close();
    await redis.close();
  });

  it('paused, no job is taken and requests wait; resumed, the waiting request is taken', async () => {
    await pauseSyncs({ queue, logger }, { paused: true, by: 'op' });
    expect(await queue.isPaused()).toBe(true);
    expect(logged.at(-1)).toMatchObject({ by: 'op', msg: 'sync queue paused', level: 40 });

    const { jobId } = await enqueueUnrecorded(queue, {
      tenantId: 'tenant-a',
      trigger: 'api',
      requestedBy: 'op',
    });
    // Asked for the next job without blocking: none while paused.
    expect(await worker.getNextJob('token-1', { block: false })).toBeUndefined();
    expect(await queue.getJobState(jobId)).not.toBe('active');

    await pauseSyncs({ queue, logger }, { paused: false, by: 'op' });
    expect(await queue.isPaused()).toBe(false);
    expect(logged.at(-1)).toMatchObject({ by: 'op', msg: 'sync queue resumed', level: 40 });
    const taken = await worker.getNextJob('token-2', { block: false });
    expect(taken?.id).toBe(jobId);
  });

  it('refuses a bad actor name, and neither pauses nor logs', async () => {
    const before = logged.length;
    await expect(pauseSyncs({ queue, logger }, { paused: true, by: 'two\nlines' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(await queue.isPaused()).toBe(false);
    expect(logged).toHaveLength(before);
  });
});
