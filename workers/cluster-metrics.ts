/**
 * Series about the whole deployment rather than one process, served by the scheduler leader only (one
 * series each, whatever the number of replicas; a scheduler that is not the leader serves none):
 * - sync queue jobs by state (`m365sync_queue_jobs{queue,state}`, from BullMQ's getJobCounts: the
 *   numbers of BullMQ's exportPrometheusMetrics(), whose `bullmq_job_count` name promtool rejects, a
 *   gauge named `_count`);
 * - tenants, tenants stale beyond M365SYNC_STALE_AFTER_HOURS (default 36) without a succeeded run, and
 *   per tenant the seconds since its last succeeded run (since it was added, when it never had one),
 *   labelled `tenant="<hierarchy>/<name>"`. One series per tenant: set M365SYNC_METRICS_TENANT_LABEL=false
 *   beyond about 2,000 tenants and alert on the count instead.
 * - the queue's health for the alerts of deploy/alerts.yml: workers connected to it (BullMQ names their
 *   Redis connections; no series when Redis refuses CLIENT LIST), whether it is paused, and the seconds
 *   since the oldest waiting sync was requested;
 * - per kind, the longest run of consecutive failed runs of that kind for any one tenant (read from the
 *   newest KIND_STREAK_RUNS runs of each tenant, domain/failure-streaks.ts), and per tenant and kind
 *   with the tenant label on (only streaks of one or more).
 * Also `m365sync_scheduler_leader` (1 on the leader) from every scheduler.
 * The MongoDB reads run at most every M365SYNC_STALENESS_REFRESH_MS (default 60 s), not per scrape.
 */
import type { Queue } from 'bullmq';
import type { Stores } from '../connectors/mongo/index.js';
import type { Gauge, Registry } from 'prom-client';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { registry as processRegistry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import { kindFailureStreaks } from '../domain/failure-streaks.js';
import { connectedWorkers } from '../queues/worker-presence.js';
import { oldestWaitingSince } from '../queues/sync-queue.js';

/** How many of each tenant's newest runs the failure streaks are read from (so a streak is at most this). */
export const KIND_STREAK_RUNS = 10;

export interface ClusterMetricsOptions {
  stores: Pick<Stores, 'tenants' | 'runs'>;
  syncQueue: Queue;
  isLeader: () => boolean;
  /** M365SYNC_METRICS_TENANT_LABEL, M365SYNC_STALE_AFTER_HOURS, M365SYNC_STALENESS_REFRESH_MS. */
  settings?: Pick<
    Settings,
    'M365SYNC_METRICS_TENANT_LABEL' | 'M365SYNC_STALE_AFTER_HOURS' | 'M365SYNC_STALENESS_REFRESH_MS'
  >;
  registry?: Registry;
}

interface Staleness {
  tenants: number;
  stale: number;
  ages: { tenant: string; seconds: number }[];
  /** Streaks of one or more: the tenant (as labelled), the kind, its consecutive failed runs. */
  streaks: { tenant: string; kind: string; runs: number }[];
}

export function clusterMetrics(options: ClusterMetricsOptions): void {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const metric = metricsOn(options.registry ?? processRegistry);
  const staleAfterSeconds = settings.M365SYNC_STALE_AFTER_HOURS * 3600;
  let cached: { at: number; value: Staleness } | undefined;

  async function staleness(): Promise<Staleness> {
    if (cached && Date.now() - cached.at < settings.M365SYNC_STALENESS_REFRESH_MS) return cached.value;
    const now = Date.now();
    const tenants = await options.stores.tenants.summaries();
    // The newest succeeded run of each tenant, through the (tenantId, _id) index; a few at a time.
    // (One query per tenant: FerretDB v1 has no $max accumulator in $group.)
    const lastOf = new Map<string, Date>();
    const streaksOf = new Map<string, Map<string, number>>();
    const ids = tenants.map((t) => t.id);
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map(async (tenantId) => {
          const [endedAt, newest] = await Promise.all([
            options.stores.runs.lastSucceededAt(tenantId),
            options.stores.runs.newestVerdicts(tenantId, KIND_STREAK_RUNS),
          ]);
          if (endedAt) lastOf.set(tenantId, endedAt);
          streaksOf.set(tenantId, kindFailureStreaks(newest));
        }),
      );
    }
    const label = (t: (typeof tenants)[number]) => `${t.hierarchy}/${t.name ?? t.id}`;
    const ages = tenants.map((t) => {
      const since = lastOf.get(t.id) ?? t.createdAt ?? new Date(now);
      return {
        tenant: label(t),
        seconds: Math.max(0, (now - new Date(since).getTime()) / 1000),
      };
    });
    const value = {
      tenants: ages.length,
      stale: ages.filter((a) => a.seconds > staleAfterSeconds).length,
      ages,
      streaks: tenants.flatMap((t) =>
        [...(streaksOf.get(t.id) ?? [])].map(([kind, runs]) => ({ tenant: label(t), kind, runs })),
      ),
    };
    cached = { at: now, value };
    return value;
  }

  metric.gauge({
    name: 'm365sync_scheduler_leader',
    help: '1 while this scheduler process is the leader (reconciles schedules, serves the cluster series)',
    collect() {
      this.set(options.isLeader() ? 1 : 0);
    },
  });
  // Each gauge is rebuilt from MongoDB at scrape (cached): a removed tenant's series goes with it, and
  // a scheduler that is not the leader serves none.
  const rebuild = async (gauge: Gauge, set: (s: Staleness) => void) => {
    gauge.reset();
    if (options.isLeader()) set(await staleness());
  };
  if (settings.M365SYNC_METRICS_TENANT_LABEL)
    metric.gauge({
      name: 'm365sync_tenant_last_success_age_seconds',
      help: "Seconds since each tenant's last succeeded sync run (since it was added, if it never had one)",
      labelNames: ['tenant'] as const,
      async collect() {
        await rebuild(this, (s) => {
          for (const a of s.ages) this.set({ tenant: a.tenant }, Math.round(a.seconds));
        });
      },
    });
  metric.gauge({
    name: 'm365sync_tenants',
    help: 'Tenants registered',
    async collect() {
      await rebuild(this, (s) => this.set(s.tenants));
    },
  });
  metric.gauge({
    name: 'm365sync_tenants_stale',
    help: 'Tenants without a succeeded sync run for longer than M365SYNC_STALE_AFTER_HOURS',
    async collect() {
      await rebuild(this, (s) => this.set(s.stale));
    },
  });
  metric
    .gauge({
      name: 'm365sync_tenants_stale_after_seconds',
      help: 'The staleness threshold of m365sync_tenants_stale (M365SYNC_STALE_AFTER_HOURS)',
    })
    .set(staleAfterSeconds);

  metric.gauge({
    name: 'm365sync_kind_failure_streak_max',
    help: 'Per kind, the most consecutive failed runs of that kind for any one tenant (0: none failing)',
    labelNames: ['kind'] as const,
    async collect() {
      await rebuild(this, (s) => {
        // Every kind, at 0 when no tenant fails it: a kind that starts failing changes a known series.
        const longest = new Map<string, number>(ENTITY_KIND_NAMES.map((kind) => [kind, 0]));
        for (const { kind, runs } of s.streaks) longest.set(kind, Math.max(runs, longest.get(kind) ?? 0));
        for (const [kind, runs] of longest) this.set({ kind }, runs);
      });
    },
  });
  if (settings.M365SYNC_METRICS_TENANT_LABEL)
    metric.gauge({
      name: 'm365sync_tenant_kind_failure_streak',
      help: 'Consecutive failed runs of a kind for a tenant (only kinds failing in its newest run)',
      labelNames: ['tenant', 'kind'] as const,
      async collect() {
        await rebuild(this, (s) => {
          for (const { tenant, kind, runs } of s.streaks) this.set({ tenant, kind }, runs);
        });
      },
    });

  // Read from Redis at each scrape (cheap: two counts and one job), by the leader only.
  metric.gauge({
    name: 'm365sync_queue_workers',
    help: 'Workers connected to the sync queue (absent when Redis refuses CLIENT LIST)',
    labelNames: ['queue'] as const,
    async collect() {
      this.reset();
      if (!options.isLeader()) return;
      const workers = await connectedWorkers(options.syncQueue);
      if (workers !== undefined) this.set({ queue: options.syncQueue.name }, workers);
    },
  });
  metric.gauge({
    name: 'm365sync_queue_paused',
    help: 'Whether the sync queue is paused (1) or not (0): `m365sync queue pause` / `resume`',
    labelNames: ['queue'] as const,
    async collect() {
      this.reset();
      if (!options.isLeader()) return;
      this.set({ queue: options.syncQueue.name }, (await options.syncQueue.isPaused()) ? 1 : 0);
    },
  });
  metric.gauge({
    name: 'm365sync_queue_oldest_waiting_seconds',
    help: 'Seconds since the oldest sync job still waiting for a worker was requested (0 when none waits)',
    labelNames: ['queue'] as const,
    async collect() {
      this.reset();
      if (!options.isLeader()) return;
      // Every priority band's oldest, not the prioritized set's first job (a requested sync that jumped
      // the scheduled ones).
      const since = await oldestWaitingSince(options.syncQueue);
      const seconds = since !== undefined ? Math.max(0, (Date.now() - since) / 1000) : 0;
      this.set({ queue: options.syncQueue.name }, Math.round(seconds));
    },
  });

  metric.gauge({
    name: 'm365sync_queue_jobs',
    help: 'Jobs in the sync queue by state (BullMQ getJobCounts: waiting, active, delayed, failed, …)',
    labelNames: ['queue', 'state'] as const,
    async collect() {
      this.reset();
      if (!options.isLeader()) return;
      const counts = await options.syncQueue.getJobCounts();
      for (const [state, n] of Object.entries(counts)) this.set({ queue: options.syncQueue.name, state }, n);
    },
  });
}
