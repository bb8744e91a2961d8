/**
 * Sync run metrics, registered in the process registry. Labels are bounded (status, kind, change);
 * never a tenant: per-tenant detail is in `sync_runs`.
 */
import { Counter, Histogram, exponentialBuckets } from 'prom-client';
import { registry } from '../observability/metrics.js';
import type { RunSummary } from './processor.js';

interface SyncMetrics {
  observe(status: string, durationMs: number, summary?: RunSummary): void;
}

let instance: SyncMetrics | undefined;

/** One set of metrics per process, however many workers it starts (tests start several). */
export function syncMetrics(): SyncMetrics {
  if (instance) return instance;
  const runs = new Counter({
    name: 'm365sync_sync_runs_total',
    help: 'Sync runs finished, by final status',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'm365sync_sync_run_duration_seconds',
    help: 'Duration of sync runs, by final status',
    labelNames: ['status'] as const,
    // 1 s to about 4.5 h: full pulls take minutes to hours.
    buckets: exponentialBuckets(1, 2, 15),
    registers: [registry],
  });
  const objects = new Counter({
    name: 'm365sync_sync_objects_total',
    help: 'Imported objects handled by sync runs, by kind and change (created, updated, unchanged, deleted)',
    labelNames: ['kind', 'change'] as const,
    registers: [registry],
  });
  const held = new Counter({
    name: 'm365sync_sync_sweeps_held_total',
    help: 'Sweeps held back by mass-delete protection (the run ends needs_review), by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const heldObjects = new Counter({
    name: 'm365sync_sync_deletions_held_total',
    help: 'Objects a held sweep would have deleted, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  instance = {
    observe(status, durationMs, summary) {
      runs.inc({ status });
      duration.observe({ status }, durationMs / 1000);
      for (const [kind, r] of Object.entries(summary?.kinds ?? {})) {
        for (const change of ['created', 'updated', 'unchanged', 'deleted'] as const) {
          if (r[change] > 0) objects.inc({ kind, change }, r[change]);
        }
        if (r.status === 'needs_review' && r.held) {
          held.inc({ kind });
          heldObjects.inc({ kind }, r.held.wouldDelete);
        }
      }
    },
  };
  return instance;
}
