/**
 * Delta sync metrics (docs/delta.md): runs by status, and kinds that fell back to a full pull by
 * reason. Bounded labels, every series at zero from the start (as workers/metrics.ts says why).
 */
import { DELTA_FALLBACK_REASONS, type DeltaFallbackReason } from '../domain/delta.js';
import { registry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';
import { ENDED_RUN_STATUSES } from './metrics.js';

const DELTA_FALLBACK_KINDS = ['users', 'groups', 'teams'] as const;

export interface DeltaMetrics {
  /** A delta run ended with this status. */
  run(status: string): void;
  /** A kind of a delta run was pulled in full instead, for this reason. */
  fallback(kind: string, reason: DeltaFallbackReason): void;
}

export function deltaMetrics(): DeltaMetrics {
  const metric = metricsOn(registry);
  const runs = metric.counter({
    name: 'm365sync_delta_runs_total',
    help: 'Delta sync runs finished, by final status (they are in m365sync_sync_runs_total too)',
    labelNames: ['status'] as const,
  });
  const fallbacks = metric.counter({
    name: 'm365sync_delta_fallbacks_total',
    help: 'Kinds of delta runs pulled in full instead of by a delta round, by kind and reason',
    labelNames: ['kind', 'reason'] as const,
  });
  for (const status of ENDED_RUN_STATUSES) runs.inc({ status }, 0);
  for (const kind of DELTA_FALLBACK_KINDS)
    for (const reason of DELTA_FALLBACK_REASONS) fallbacks.inc({ kind, reason }, 0);
  return {
    run: (status) => runs.inc({ status }),
    fallback: (kind, reason) => fallbacks.inc({ kind, reason }),
  };
}
