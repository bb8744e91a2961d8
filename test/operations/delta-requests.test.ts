/**
 * Delta requests on the queue (docs/delta.md): they de-duplicate apart from full pulls, so a full pull
 * asked for while a delta run waits is not swallowed by it; a delta request while a full pull of the
 * tenant waits or runs is refused with a clear CONFLICT and leaves no job and no record; kinds cannot
 * be chosen for a delta run; an installation with delta off refuses delta requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { requestSync } from '../../operations/request-sync.js';
import { prepareSync } from '../../queues/sync-queue.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { enqueueRecorded } from '../../operations/index.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

describe('delta requests on the sync queue', () => {
  let fx: QueueFixture;
  beforeAll(async () => {
    fx = await queueFixture('deltareq');
  });
  afterAll(async () => {
    await fx.close();
  });

  const ask = (tenantId: string, mode?: 'delta') =>
    enqueueRecorded(
      { queue: fx.queue, stores: { runs: fx.runs }, settings: DEFAULT_SETTINGS },
      {
        request: { tenantId, trigger: 'cli', requestedBy: 'tester', ...(mode ? { mode } : {}) },
        hierarchy: 'p',
      },
    );

  it('keeps a full pull apart from a waiting delta run, and records the mode', async () => {
    const delta = await ask('tenanta', 'delta');
    // A second delta request joins the waiting delta run, as full pulls join each other.
    expect((await ask('tenanta', 'delta')).jobId).toBe(delta.jobId);
    const full = await ask('tenanta');
    expect(delta.outcome).toBe('created');
    expect(full.outcome).toBe('created');
    expect(full.jobId).not.toBe(delta.jobId);
    expect((await fx.queue.getJob(delta.jobId))?.data.mode).toBe('delta');
    expect((await fx.runs.get(delta.runId!))?.mode).toBe('delta');
    expect((await fx.runs.get(full.runId!))?.mode).toBeUndefined();
  });

  it('refuses a delta run while a full pull of the tenant waits, saying so, and stores nothing', async () => {
    const full = await ask('tenantb');
    const before = await fx.runs.collection.countDocuments({ tenantId: 'tenantb' });
    const refused = await ask('tenantb', 'delta').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SyncError);
    expect((refused as SyncError).code).toBe('CONFLICT');
    expect((refused as SyncError).message).toBe(
      `A full pull of tenant tenantb is waiting to run (run ${full.jobId}); it lands everything a delta run would, so no delta run was queued.`,
    );
    expect(await fx.runs.collection.countDocuments({ tenantId: 'tenantb' })).toBe(before);
    expect(await fx.queue.getDeduplicationJobId('tenantb.delta')).toBeFalsy();
  });

  it('refuses kinds with a delta run, naming the field', async () => {
    const refused = await prepareSync(fx.queue, {
      tenantId: 'tenantc',
      trigger: 'cli',
      requestedBy: 'tester',
      mode: 'delta',
      kinds: ['users'],
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).problems[0]?.field).toBe('kinds');
  });

  it('refuses delta requests when the installation has delta off', async () => {
    const refused = await requestSync(
      {
        queue: fx.queue,
        stores: { runs: fx.runs } as never,
        settings: { ...DEFAULT_SETTINGS, M365SYNC_DELTA: false },
      },
      { tenant: { id: 'tenantd', hierarchy: 'p' }, trigger: 'api', requestedBy: 'tester', mode: 'delta' },
    ).catch((error: unknown) => error);
    expect((refused as SyncError).code).toBe('CONFIGURATION');
    expect((refused as SyncError).message).toContain('M365SYNC_DELTA=false');
    expect(await fx.queue.getDeduplicationJobId('tenantd.delta')).toBeFalsy();
  });
});
