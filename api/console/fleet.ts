/**
 * The fleet page: every tenant in the caller's scope with its place, its last run (status, when, how
 * long), the age of its last good data against the staleness threshold, its next scheduled run, and
 * whether a run waits or runs; filtered by place and status, sorted by staleness, counted at the top,
 * paged on the server.
 *
 * What it reads, whatever the fleet's size: the tenants' ids, places and names (one query), each
 * tenant's run summary (one query of one small document per tenant: connectors/mongo/run-summaries.ts),
 * the queued and running runs (two equality reads), and, for the page's rows only, their job
 * schedulers in Redis and a one-time backfill of a summary a tenant lacks (runs older than the
 * summaries). Never a query per tenant of the fleet.
 *
 * The first two are the slow part on FerretDB at fleet size (it decodes every document in Go: about
 * 2 s for 5,000 stored tenants, 0.6 s for their summaries; bench/RESULTS.md), so FleetSnapshots keeps
 * them in the API process, for every scope at once, and re-reads them in the background once they are
 * older than five times their last read (at least a second): a page never waits for that read but
 * the very first, and its rows are at most a few read-times old. Whether a run waits or runs is read
 * at every request (it is what an operator watches after pressing "Sync now").
 */
import type { Queue } from 'bullmq';
import type { Stores, TenantRunSummary } from '../../connectors/mongo/index.js';
import { scopeCovers } from '../../domain/access.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { HIERARCHY } from '../../domain/tenant.js';
import { schedulerId } from '../../queues/schedules.js';
import { deltaSchedulerId } from '../../queues/delta-schedules.js';
import { queueCall } from '../redis-calls.js';
import { html, numeric, table, type Html } from './html.js';
import { duration, statusWord, when } from './layout.js';

export const FLEET_STATUSES = [
  'succeeded',
  'partial',
  'needs_review',
  'failed',
  'stale',
  'running',
  'queued',
  'never',
] as const;
export type FleetStatus = (typeof FLEET_STATUSES)[number];
export const PAGE_SIZE = 50;

export interface FleetQuery {
  place?: string;
  status?: FleetStatus;
  /** `staleness` (default: oldest good data first) or `name`. */
  sort: 'staleness' | 'name';
  page: number;
}

export interface FleetRow {
  id: string;
  name: string;
  hierarchy: string;
  summary?: TenantRunSummary;
  /** Milliseconds since the last good data (a succeeded run's end; else since the tenant was added). */
  ageMs: number;
  stale: boolean;
  queued: boolean;
  runningRunId?: string;
  nextScheduledAt?: Date;
}

export interface FleetView {
  query: FleetQuery;
  counts: Record<FleetStatus, number>;
  total: number;
  matching: number;
  rows: FleetRow[];
  pages: number;
  staleAfterMs: number;
}

/** The query string of the fleet page, checked; a value that is not one is ignored, never echoed raw. */
export function parseFleetQuery(input: Record<string, unknown>): FleetQuery {
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const place = text(input.place);
  const status = text(input.status) as FleetStatus;
  const page = Number.parseInt(text(input.page), 10);
  return {
    ...(place && HIERARCHY.test(place) ? { place } : {}),
    ...(FLEET_STATUSES.includes(status) ? { status } : {}),
    sort: text(input.sort) === 'name' ? 'name' : 'staleness',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function matches(row: FleetRow, status: FleetStatus): boolean {
  switch (status) {
    case 'stale':
      return row.stale;
    case 'running':
      return row.runningRunId !== undefined;
    case 'queued':
      return row.queued;
    case 'never':
      return !row.summary?.lastRun;
    default:
      return row.summary?.lastRun?.status === status;
  }
}

type TenantSummary = Awaited<ReturnType<Stores['tenants']['summaries']>>[number];

interface Snapshot {
  tenants: TenantSummary[];
  summaries: Map<string, TenantRunSummary>;
}

/** Every tenant and its run summary, kept in the process and re-read in the background (see above). */
export class FleetSnapshots {
  private current?: { at: number; tookMs: number; snapshot: Snapshot };
  private loading?: Promise<Snapshot>;

  constructor(private readonly stores: Pick<Stores, 'tenants' | 'runs'>) {}

  private load(): Promise<Snapshot> {
    this.loading ??= (async () => {
      const started = Date.now();
      const [tenants, summaries] = await Promise.all([
        this.stores.tenants.summaries(),
        this.stores.runs.summaries(),
      ]);
      const snapshot = { tenants, summaries };
      this.current = { at: Date.now(), tookMs: Date.now() - started, snapshot };
      return snapshot;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** The snapshot; a stale one at once (its refresh started), none yet: waits for the first read. */
  async get(): Promise<Snapshot> {
    const current = this.current;
    if (!current) return this.load();
    if (Date.now() - current.at > Math.max(1000, 5 * current.tookMs))
      void this.load().catch(
        ignoreBecause('the stale snapshot is shown meanwhile; the next request reads again'),
      );
    return current.snapshot;
  }

  /** A tenant's summary changed under the console's eyes (a backfill): keep it. */
  remember(summary: TenantRunSummary): void {
    this.current?.snapshot.summaries.set(summary.tenantId, summary);
  }
}

export interface FleetSources {
  stores: Pick<Stores, 'tenants' | 'runs'>;
  snapshots: FleetSnapshots;
  triggerQueue?: Queue;
  timeoutMs: number;
  staleAfterMs: number;
  now?: Date;
}

export async function fleetView(sources: FleetSources, scope: string, query: FleetQuery): Promise<FleetView> {
  const { stores } = sources;
  const now = (sources.now ?? new Date()).getTime();
  const [snapshot, active] = await Promise.all([sources.snapshots.get(), stores.runs.activeTenants()]);
  const { summaries } = snapshot;
  const tenants = snapshot.tenants.filter(
    (t) => scopeCovers(scope, t.hierarchy) && (!query.place || scopeCovers(query.place, t.hierarchy)),
  );
  const all: FleetRow[] = tenants.map((t) => {
    const summary = summaries.get(t.id);
    const since = summary?.lastSuccessAt ?? t.createdAt;
    const ageMs = since ? Math.max(0, now - new Date(since).getTime()) : Number.POSITIVE_INFINITY;
    const running = active.running.get(t.id);
    return {
      id: t.id,
      name: t.name ?? t.id,
      hierarchy: t.hierarchy,
      ...(summary ? { summary } : {}),
      ageMs,
      stale: ageMs > sources.staleAfterMs,
      queued: active.queued.has(t.id),
      ...(running ? { runningRunId: running } : {}),
    };
  });
  const counts = Object.fromEntries(
    FLEET_STATUSES.map((s) => [s, all.filter((row) => matches(row, s)).length]),
  ) as Record<FleetStatus, number>;
  const filtered = query.status ? all.filter((row) => matches(row, query.status!)) : all;
  filtered.sort((a, b) =>
    query.sort === 'name'
      ? a.hierarchy.localeCompare(b.hierarchy) || a.name.localeCompare(b.name)
      : b.ageMs - a.ageMs || a.name.localeCompare(b.name),
  );
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
  const page = Math.min(query.page, pages);
  const rows = filtered.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  await Promise.all([backfill(sources, rows, now), nextRuns(sources, rows)]);
  return {
    query: { ...query, page },
    counts,
    total: all.length,
    matching: filtered.length,
    rows,
    pages,
    staleAfterMs: sources.staleAfterMs,
  };
}

/** Rows whose tenant ran only before summaries were kept: their summary, written once. */
async function backfill(sources: FleetSources, rows: FleetRow[], now: number): Promise<void> {
  for (const row of rows.filter((r) => !r.summary)) {
    const summary = await sources.stores.runs.backfillSummary(row.id);
    if (!summary) continue;
    sources.snapshots.remember(summary);
    row.summary = summary;
    if (summary.lastSuccessAt) {
      row.ageMs = Math.max(0, now - new Date(summary.lastSuccessAt).getTime());
      row.stale = row.ageMs > sources.staleAfterMs;
    }
  }
}

/** The next firing of each row's job schedulers (nightly and delta), the sooner of the two. */
async function nextRuns(sources: FleetSources, rows: FleetRow[]): Promise<void> {
  const queue = sources.triggerQueue;
  if (!queue || rows.length === 0) return;
  await queueCall(queue, sources.timeoutMs, () =>
    Promise.all(
      rows.map(async (row) => {
        const [nightly, delta] = await Promise.all([
          queue.getJobScheduler(schedulerId(row.id)),
          queue.getJobScheduler(deltaSchedulerId(row.id)),
        ]);
        const next = [nightly?.next, delta?.next].filter((n): n is number => typeof n === 'number');
        if (next.length > 0) row.nextScheduledAt = new Date(Math.min(...next));
      }),
    ),
  );
}

const STATUS_LABELS: Record<FleetStatus, string> = {
  succeeded: 'Succeeded',
  partial: 'Partial',
  needs_review: 'Needs review',
  failed: 'Failed',
  stale: 'Stale',
  running: 'Running',
  queued: 'Queued',
  never: 'Never run',
};

function fleetLink(query: FleetQuery, change: Partial<FleetQuery>): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.place) params.set('place', next.place);
  if (next.status) params.set('status', next.status);
  if (next.sort !== 'staleness') params.set('sort', next.sort);
  if (next.page > 1) params.set('page', String(next.page));
  const text = params.toString();
  return text ? `/console?${text}` : '/console';
}

export function fleetPage(view: FleetView): Html {
  const { query } = view;
  const start = (query.page - 1) * PAGE_SIZE;
  return html`<h1>Fleet</h1>
    <ul class="counts" aria-label="Tenants by status">
      <li>
        <a href="${fleetLink(query, { status: undefined, page: 1 })}">All <b>${view.total}</b></a>
      </li>
      ${FLEET_STATUSES.map(
        (s) =>
          html`<li>
            <a
              href="${fleetLink(query, { status: s, page: 1 })}"
              ${query.status === s ? html`aria-current="true"` : ''}
              >${STATUS_LABELS[s]} <b data-count="${s}">${view.counts[s]}</b></a
            >
          </li>`,
      )}
    </ul>
    <form class="filters" method="get" action="/console" role="search">
      <label
        >Hierarchy place
        <input
          name="place"
          value="${query.place ?? ''}"
          placeholder="provider.reseller"
          pattern="[A-Za-z0-9_\\-]+(\\.[A-Za-z0-9_\\-]+)*"
      /></label>
      <label
        >Status
        <select name="status">
          <option value="">any</option>
          ${FLEET_STATUSES.map((s) => html`<option value="${s}" ${query.status === s ? 'selected' : ''}>${STATUS_LABELS[s]}</option>`)}
        </select></label
      >
      <label
        >Sort
        <select name="sort">
          <option value="staleness" ${query.sort === 'staleness' ? 'selected' : ''}>oldest data first</option>
          <option value="name" ${query.sort === 'name' ? 'selected' : ''}>place and name</option>
        </select></label
      >
      <button type="submit">Show</button>
    </form>
    <p class="muted">
      ${view.matching}
      tenant${view.matching === 1 ? '' : 's'}${
        view.matching > 0 ? html`, ${start + 1}–${start + view.rows.length} shown` : ''
      }.
      Stale: no succeeded run for ${duration(view.staleAfterMs)}.
    </p>
    ${table({
      columns: [
        'Tenant',
        'Place',
        'Last run',
        'When',
        numeric('Took'),
        'Last good data',
        'Next scheduled',
        'Now',
      ],
      rows: view.rows.map((row) => {
        const last = row.summary?.lastRun;
        const took =
          last?.startedAt && last.endedAt
            ? new Date(last.endedAt).getTime() - new Date(last.startedAt).getTime()
            : undefined;
        return {
          attributes: html`data-tenant="${row.id}"`,
          cells: [
            html`<a href="/console/tenants/${row.id}">${row.name}</a>`,
            html`<code>${row.hierarchy}</code>`,
            last
              ? html`<a href="/console/runs/${last.id}">${statusWord(last.status)}</a
                  >${last.mode === 'delta' ? html` <span class="muted">delta</span>` : ''}${last.errorCode ? html` <code>${last.errorCode}</code>` : ''}`
              : html`<span class="muted">none</span>`,
            when(last?.endedAt),
            duration(took),
            html`${Number.isFinite(row.ageMs) ? html`${duration(row.ageMs)} ago` : html`<span class="muted">none</span>`}${row.stale ? html` ${statusWord('stale')}` : ''}`,
            row.nextScheduledAt ? when(row.nextScheduledAt) : html`<span class="muted">none</span>`,
            html`${row.runningRunId ? html`<a href="/console/runs/${row.runningRunId}">${statusWord('running')}</a>` : ''}${row.queued ? html` ${statusWord('queued')}` : ''}`,
          ],
        };
      }),
    })}
    <nav class="pager" aria-label="Pages">
      ${query.page > 1 ? html`<a href="${fleetLink(query, { page: query.page - 1 })}" rel="prev">← Previous</a>` : ''}
      <span>Page ${query.page} of ${view.pages}</span>
      ${query.page < view.pages ? html`<a href="${fleetLink(query, { page: query.page + 1 })}" rel="next">Next →</a>` : ''}
    </nav>`;
}
