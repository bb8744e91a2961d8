/**
 * Sync run metrics, registered in the process registry. Labels are bounded (status, error code, kind,
 * change); never a tenant: per-tenant detail is in `sync_runs`.
 *
 * Every series of those bounded label sets exists at zero from the start: a series that appears with
 * its first event at 1 has no earlier sample, so `increase()` and `rate()` see nothing, and an alert on
 * the first failed run of a process would stay silent (Prometheus's instrumentation guidance: "avoid
 * missing metrics").
 */
import { exponentialBuckets } from 'prom-client';
import { registry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';
import { ERROR_CODES } from '../domain/errors.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import type { KindStatus, RunSummary } from '../domain/sync-run.js';

/** How a run can end in a worker (`merged`, `queued` and `running` are never observed here). */
export const ENDED_RUN_STATUSES = ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled'] as const;
/** A run's `code` label: `none`, an error code, or the worker's own LEASE_LAPSING (workers/worker.ts). */
export const RUN_CODES = ['none', ...ERROR_CODES, 'LEASE_LAPSING'] as const;
/** A failed kind's `code` label: its error's code (UNKNOWN when it carries none). */
export const KIND_FAILURE_CODES = [...ERROR_CODES, 'UNKNOWN'] as const;
const KIND_STATUSES: readonly KindStatus[] = ['succeeded', 'needs_review', 'failed', 'cancelled', 'skipped'];
const CHANGES = ['created', 'updated', 'unchanged', 'deleted'] as const;

export interface SyncMetrics {
  /** A run ended; `code` is its error code (`none` when it has none). */
  observe(status: string, durationMs: number, summary?: RunSummary, code?: string): void;
  /** A job found its tenant's lease held by another run and was put back (delayed). */
  leaseConflict(): void;
  /** A run failed and BullMQ will try it again. */
  retry(): void;
  /** This worker found a stalled job (its worker died or lost Redis) and put it back. */
  stalled(): void;
}

/** One set of metrics per process (made once per registry), however many workers it starts (tests start several). */
export function syncMetrics(): SyncMetrics {
  const metric = metricsOn(registry);
  const runs = metric.counter({
    name: 'm365sync_sync_runs_total',
    help: 'Sync runs finished, by final status and error code (none when the run has no error)',
    labelNames: ['status', 'code'] as const,
  });
  const duration = metric.histogram({
    name: 'm365sync_sync_run_duration_seconds',
    help: 'Duration of sync runs, by final status',
    labelNames: ['status'] as const,
    // 1 s to about 4.5 h: full pulls take minutes to hours.
    buckets: exponentialBuckets(1, 2, 15),
  });
  const kindDuration = metric.histogram({
    name: 'm365sync_sync_kind_duration_seconds',
    help: 'Duration of each kind within sync runs, by kind and status',
    labelNames: ['kind', 'status'] as const,
    buckets: exponentialBuckets(0.25, 2, 16),
  });
  const kindFailures = metric.counter({
    name: 'm365sync_sync_kind_failures_total',
    help: 'Kinds that failed within sync runs (they swept nothing), by kind and error code',
    labelNames: ['kind', 'code'] as const,
  });
  const objects = metric.counter({
    name: 'm365sync_sync_objects_total',
    help: 'Imported objects handled by sync runs, by kind and change (created, updated, unchanged, deleted)',
    labelNames: ['kind', 'change'] as const,
  });
  const held = metric.counter({
    name: 'm365sync_sync_sweeps_held_total',
    help: 'Sweeps held back by mass-delete protection (the run ends needs_review), by kind',
    labelNames: ['kind'] as const,
  });
  const heldObjects = metric.counter({
    name: 'm365sync_sync_deletions_held_total',
    help: 'Objects a held sweep would have deleted, by kind',
    labelNames: ['kind'] as const,
  });
  const leaseConflicts = metric.counter({
    name: 'm365sync_sync_lease_conflicts_total',
    help: "Jobs put back (delayed) because another run held their tenant's lease",
  });
  const retries = metric.counter({
    name: 'm365sync_sync_retries_total',
    help: 'Runs that failed with a transient error and will be tried again',
  });
  const stalls = metric.counter({
    name: 'm365sync_sync_stalled_jobs_total',
    help: 'Stalled jobs (their worker died or lost Redis) this worker found and put back',
  });
  // Zero series from the start, so rate() and alerts see them before the first event.
  for (const c of [leaseConflicts, retries, stalls]) c.inc(0);
  for (const status of ENDED_RUN_STATUSES) {
    for (const code of RUN_CODES) runs.inc({ status, code }, 0);
    duration.zero({ status });
  }
  for (const kind of ENTITY_KIND_NAMES) {
    for (const status of KIND_STATUSES) kindDuration.zero({ kind, status });
    for (const code of KIND_FAILURE_CODES) kindFailures.inc({ kind, code }, 0);
    for (const change of CHANGES) objects.inc({ kind, change }, 0);
    held.inc({ kind }, 0);
    heldObjects.inc({ kind }, 0);
  }
  return {
    observe(status, durationMs, summary, code = 'none') {
      runs.inc({ status, code });
      duration.observe({ status }, durationMs / 1000);
      for (const [kind, r] of Object.entries(summary?.kinds ?? {})) {
        kindDuration.observe({ kind, status: r.status }, r.durationMs / 1000);
        if (r.status === 'failed') kindFailures.inc({ kind, code: r.error?.code ?? 'UNKNOWN' });
        for (const change of CHANGES) {
          if (r[change] > 0) objects.inc({ kind, change }, r[change]);
        }
        if (r.status === 'needs_review' && r.held) {
          held.inc({ kind });
          heldObjects.inc({ kind }, r.held.wouldDelete);
        }
      }
    },
    leaseConflict: () => leaseConflicts.inc(),
    retry: () => retries.inc(),
    stalled: () => stalls.inc(),
  };
}
