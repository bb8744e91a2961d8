/**
 * The worker's run metrics as a scrape sees them (the process's real prom-client registry, read as
 * Prometheus text): every series of a bounded label set exists at 0 from the start, so the first
 * event of a status or an error code is an increase that `increase()` and the alerts see
 * (deploy/alerts.test.yml); and a run whose every kind failed counts each kind's failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITY_KIND_NAMES } from '../../domain/entity-kinds.js';
import { ERROR_CODES } from '../../domain/errors.js';
import { registry } from '../../observability/metrics.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import type { SyncWorker } from '../../workers/worker.js';
import { webhookAttemptsMetric } from '../../workers/webhook-delivery.js';
import { proxyMetrics } from '../../connectors/winrm/metrics.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastWorker,
  quietLogger,
  startTestWorker,
  sweepFreely,
} from './support/harness.js';
import { failedKind } from './support/kind-results.js';

/** The value of one series in the registry's exposition, or undefined when the series is absent. */
async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await registry.metrics();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const present = m[2]!.split(',');
    if (wanted.every((w) => present.includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('run metrics', () => {
  let fx: QueueFixture;
  let worker: SyncWorker;

  beforeAll(async () => {
    fx = await queueFixture('run-metrics');
    // A full pull whose every kind fails (a tenant whose Graph permissions were all withdrawn).
    worker = await startTestWorker({
      redis: fx.redisConfig,
      db: fx.db,
      processor: async () => ({
        kinds: {
          users: failedKind('PERMISSION'),
          groups: failedKind('PERMISSION'),
          teams: failedKind('THROTTLED'),
        },
        retryable: false,
      }),
      settings: fastWorker,
      deleteThresholds: sweepFreely,
      queueSettings: fastQueue,
      workerId: 'run-metrics',
      logger: quietLogger,
    });
  });
  afterAll(async () => {
    await worker?.close(500);
    await fx?.close();
  });

  it('a started worker serves every status, code and kind at 0 before its first run', async () => {
    expect(await sample('m365sync_sync_runs_total', { status: 'needs_review', code: 'none' })).toBe(0);
    for (const code of ERROR_CODES) {
      expect(await sample('m365sync_sync_runs_total', { status: 'failed', code }), code).toBe(0);
      expect(await sample('m365sync_sync_runs_total', { status: 'partial', code }), code).toBe(0);
    }
    for (const kind of ENTITY_KIND_NAMES) {
      expect(await sample('m365sync_sync_kind_failures_total', { kind, code: 'AUTHENTICATION' }), kind).toBe(
        0,
      );
      expect(await sample('m365sync_sync_objects_total', { kind, change: 'deleted' }), kind).toBe(0);
      expect(await sample('m365sync_sync_sweeps_held_total', { kind }), kind).toBe(0);
      expect(
        await sample('m365sync_sync_kind_duration_seconds_count', { kind, status: 'failed' }),
        kind,
      ).toBe(0);
    }
    expect(await sample('m365sync_sync_run_duration_seconds_count', { status: 'cancelled' })).toBe(0);
    // The delivery worker's outcomes, and the proxy failures of the one `all` label, likewise.
    webhookAttemptsMetric();
    for (const outcome of ['delivered', 'retrying', 'failed'])
      expect(await sample('m365sync_webhook_attempts_total', { outcome }), outcome).toBe(0);
    proxyMetrics();
    expect(
      await sample('m365sync_powershell_proxy_failures_total', { proxy: 'all', code: 'WINRM_TIMEOUT' }),
    ).toBe(0);
    // A label value outside the set is not made up.
    expect(await sample('m365sync_sync_runs_total', { status: 'merged' })).toBeUndefined();
  });

  it('a run whose every kind failed counts each kind failure, and the run once', async () => {
    const tenantId = await addTenant(fx.db);
    await enqueueUnrecorded(
      fx.queue,
      { tenantId, trigger: 'cli', requestedBy: 'run-metrics test' },
      fastQueue,
    );
    const run = await eventually(async () => {
      const [r] = await fx.runs.list({ tenantId });
      return r?.status === 'failed' ? r : undefined;
    });
    expect(run.error?.code).toBe('PERMISSION');
    await eventually(async () =>
      (await sample('m365sync_sync_runs_total', { status: 'failed', code: 'PERMISSION' })) === 1
        ? true
        : undefined,
    );
    expect(await sample('m365sync_sync_kind_failures_total', { kind: 'users', code: 'PERMISSION' })).toBe(1);
    expect(await sample('m365sync_sync_kind_failures_total', { kind: 'groups', code: 'PERMISSION' })).toBe(1);
    expect(await sample('m365sync_sync_kind_failures_total', { kind: 'teams', code: 'THROTTLED' })).toBe(1);
    expect(
      await sample('m365sync_sync_kind_duration_seconds_count', { kind: 'users', status: 'failed' }),
    ).toBe(1);
  });
});
