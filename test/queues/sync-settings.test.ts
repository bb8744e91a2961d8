/**
 * SYNC_ATTEMPTS and SYNC_BACKOFF_MS are job options, fixed by the process that enqueues: checked with a
 * clear error when the process parses its settings, and the worker process applies its own to the
 * scheduled syncs its trigger worker enqueues.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.js';
import { parseSettings } from '../../domain/settings.js';
import { EXIT } from '../../cli/program.js';
import { cli } from '../support/cli.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { syncQueueSettings } from '../../queues/sync-queue.js';
import { buildStores } from '../../connectors/mongo/stores.js';
import { startTriggerWorker } from '../../workers/trigger-worker.js';
import { queueFixture, type QueueFixture } from './support/queue-fixture.js';
import { addTenant, eventually, quietLogger } from '../workers/support/harness.js';

describe('sync retry settings', () => {
  let fx: QueueFixture;
  beforeAll(async () => {
    fx = await queueFixture('syncsettings');
  });
  afterAll(async () => {
    await fx.close();
  });

  it('are read from the environment and refused with the variable named when wrong', () => {
    expect(syncQueueSettings(parseSettings({}))).toMatchObject({ attempts: 3, backoffDelayMs: 60_000 });
    expect(syncQueueSettings(parseSettings({ SYNC_ATTEMPTS: '5', SYNC_BACKOFF_MS: '2000' }))).toMatchObject({
      attempts: 5,
      backoffDelayMs: 2000,
    });
    const error = (() => {
      try {
        parseSettings({ SYNC_ATTEMPTS: 'three', SYNC_BACKOFF_MS: '10' });
      } catch (e) {
        return e;
      }
    })() as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.problems.map((p) => p.field)).toEqual(['SYNC_ATTEMPTS', 'SYNC_BACKOFF_MS']);
    expect(error.message).toContain('(not "three")');
    expect(error.message).toContain('(not "10")');
    expect(() => parseSettings({ SYNC_ATTEMPTS: '0' })).toThrow(/SYNC_ATTEMPTS/);
  });

  it('a worker process refuses wrong ones at start, before it connects to anything', async () => {
    // Closed ports: the command must fail on the setting, not on a connection.
    const result = await cli(
      { SYNC_ATTEMPTS: '99', MONGODB_URI: 'mongodb://127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' },
      'worker',
    );
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toMatch(/SYNC_ATTEMPTS: .*\(not "99"\)/);
  });

  it('a worker process fixes its own in the scheduled syncs its trigger worker enqueues', async () => {
    const { db, queue, redisConfig } = fx;
    const triggers = createTriggerQueue(redisConfig);
    // Only the trigger worker runs: the sync job it enqueues is inspected, never taken.
    const worker = startTriggerWorker(redisConfig, quietLogger, buildStores(db), {
      settings: parseSettings({ SYNC_ATTEMPTS: '7', SYNC_BACKOFF_MS: '4321' }),
    });
    try {
      const tenantId = await addTenant(db);
      await triggers.add('nightly', { tenantId });
      const job = await eventually(async () => {
        const jobs = await queue.getJobs(['waiting', 'prioritized', 'active']);
        return jobs.find((j) => j.data.tenantId === tenantId);
      });
      expect(job.data.trigger).toBe('schedule');
      expect(job.opts.attempts).toBe(7);
      expect(job.opts.backoff).toMatchObject({ type: 'exponential', delay: 4321 });
    } finally {
      await worker.close();
      await triggers.close();
    }
  });
});
