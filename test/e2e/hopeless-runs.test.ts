/**
 * A run that cannot succeed by trying again fails once: a tenant whose every kind fails to sign in
 * (wrong client secret for Graph, wrong service-account password for Teams) goes through the real
 * queue with three attempts allowed and is not retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { waitForRun } from '../../queues/sync-queue.js';
import { fastSettings } from '../workers/support/harness.js';
import { startEngine, type Engine } from './support/engine.js';
import { enqueueRecorded } from '../../operations/index.js';

describe('a run whose every kind failed with a non-retryable error', { timeout: 120_000 }, () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine('e2e-hopeless', { dataset: { seed: 21, users: 20 } });
  }, 120_000);

  afterAll(async () => engine?.close());

  it('fails its job once, with no retry, and records AUTHENTICATION', async () => {
    const input = structuredClone(engine.sim.tenantInput);
    input.Tenant = { name: 'Wrong secrets' };
    input['Microsoft 365']!.client_secret = 'not-the-client-secret';
    input['Microsoft Teams']!.tenantPassword = 'not-the-teams-password';
    const tenantId = (await engine.stores.tenants.add(input)).id;
    const runs = new SyncRunStore(engine.mongo.db);

    // Three attempts and a short backoff: a retry, if there were one, would come within the wait.
    const { jobId } = await enqueueRecorded(
      {
        queue: engine.queue,
        stores: { runs },
        settings: { ...fastSettings, SYNC_ATTEMPTS: 3, SYNC_BACKOFF_MS: 100 },
      },
      { request: { tenantId, trigger: 'cli', requestedBy: 'hopeless-test' }, hierarchy: '' },
    );
    const end = await waitForRun(engine.queue, jobId, { tenantId, pollMs: 50, timeoutMs: 60_000 });

    expect(end.state).toBe('failed');
    expect(end.state === 'failed' && end.reason).toMatch(/^AUTHENTICATION: /);
    const job = await engine.queue.getJob(jobId);
    expect(job?.opts.attempts).toBe(3);
    expect(job?.attemptsMade).toBe(1);
    const recorded = (await runs.list({ jobId })).filter((r) => r.status !== 'queued');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      status: 'failed',
      error: { code: 'AUTHENTICATION' },
      willRetry: false,
    });
    for (const result of Object.values(recorded[0]!.kinds ?? {}))
      expect(result).toMatchObject({ status: 'failed', error: { code: 'AUTHENTICATION' } });
    expect(Object.keys(recorded[0]!.kinds ?? {})).toContain('users');
    expect(Object.keys(recorded[0]!.kinds ?? {})).toContain('teams_users');
  });
});
