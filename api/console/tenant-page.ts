/**
 * A tenant's page: its connection summary (masked as the API masks it: a secret shows only as "set"),
 * the result of a connection test an operator just ran, its schedules, its last runs with per-kind
 * counts and errors in plain words, and what each recent run changed (the change feed's counts), and,
 * for operators, the sync actions.
 */
import type { Caller } from '../../domain/access.js';
import type { RunChanges } from '../../domain/changes.js';
import { roleAllows } from '../../domain/access.js';
import { ENTITY_KIND_NAMES } from '../../domain/entity-kinds.js';
import { MASK, type Tenant } from '../../domain/tenant.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { DELTA_OFF_TEXT } from '../../queues/delta-schedules.js';
import type { ConnectionCheckResult, ScheduleView } from '../../operations/index.js';
import { html, numeric, table, type Html } from './html.js';
import { duration, errorText, statusWord, when } from './layout.js';

export interface TenantPageData {
  tenant: Tenant;
  caller: Caller;
  csrf: string;
  runs: SyncRun[];
  changes: Map<string, RunChanges>;
  schedule?: ScheduleView;
  connectionTest?: ConnectionCheckResult[];
  deltaEnabled: boolean;
  /** Whether this API can test a tenant's connection (it was given the settings to reach it). */
  canTestConnection: boolean;
  notice?: Html;
}

function fieldValue(value: unknown): Html | string {
  if (value === MASK) return html`<span class="muted">set (hidden)</span>`;
  if (value === null || value === undefined || value === '') return html`<span class="muted">–</span>`;
  if (Array.isArray(value)) return value.map(String).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The tenant's groups of fields, as the API shows them (masked): nothing is decrypted to show them. */
function connectionSummary(tenant: Tenant): Html {
  const groups = Object.entries(tenant).filter(
    ([, value]) =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date),
  ) as [string, Record<string, unknown>][];
  return html`${groups.map(
    ([group, fields]) =>
      html`<h3>${group}</h3>
        <dl class="facts">
          ${Object.entries(fields).map(
            ([name, value]) =>
              html`<dt>${name}</dt>
                <dd>${fieldValue(value)}</dd>`,
          )}
        </dl>`,
  )}`;
}

export function runTotals(run: SyncRun): { created: number; updated: number; deleted: number } {
  const kinds = Object.values(run.kinds);
  return {
    created: kinds.reduce((n, k) => n + k.created, 0),
    updated: kinds.reduce((n, k) => n + k.updated, 0),
    deleted: kinds.reduce((n, k) => n + k.deleted, 0),
  };
}

export function runDuration(run: SyncRun): number | undefined {
  if (!run.startedAt) return undefined;
  return new Date(run.endedAt ?? new Date()).getTime() - new Date(run.startedAt).getTime();
}

function scheduleFacts(schedule: ScheduleView | undefined): Html {
  if (!schedule)
    return html`<p class="muted">The schedules are not shown: this API has no scheduler queue.</p>`;
  const delta = schedule.delta;
  return html`<dl class="facts">
    <dt>Nightly</dt>
    <dd>
      ${schedule.enabled ? html`<code>${schedule.pattern}</code> (${schedule.tz}, ${schedule.source})` : 'off'}${schedule.kinds ? html`; kinds ${schedule.kinds.join(', ')}` : ''}
    </dd>
    <dt>Next nightly</dt>
    <dd>
      ${schedule.next ? when(schedule.next) : html`<span class="muted">${schedule.active ? 'unknown' : 'no scheduler yet (the scheduler process creates it)'}</span>`}
    </dd>
    <dt>Delta</dt>
    <dd>
      ${delta.enabled ? `every ${delta.everyMinutes} min (${delta.source})` : `off: ${delta.off ? DELTA_OFF_TEXT[delta.off] : 'none'}`}
    </dd>
    ${
      delta.enabled
        ? html`<dt>Next delta</dt>
            <dd>${delta.next ? when(delta.next) : html`<span class="muted">no scheduler yet</span>`}</dd>`
        : ''
    }
  </dl>`;
}

function syncActions(data: TenantPageData): Html {
  if (!roleAllows(data.caller.role, 'operator')) return html``;
  const id = data.tenant.id;
  return html`<section class="actions" aria-label="Actions">
    <form method="post" action="/console/tenants/${id}/sync">
      <input type="hidden" name="csrf" value="${data.csrf}" />
      <input type="hidden" name="mode" value="full" />
      <button type="submit" class="primary" data-action="sync-full">Sync now (full)</button>
    </form>
    <form method="post" action="/console/tenants/${id}/sync">
      <input type="hidden" name="csrf" value="${data.csrf}" />
      <input type="hidden" name="mode" value="full" />
      <label
        >Kinds or kind lists <input name="kinds" placeholder="users,licences" list="kind-names" required
      /></label>
      <datalist id="kind-names">
        ${ENTITY_KIND_NAMES.map((k) => html`<option value="${k}"></option>`)}
      </datalist>
      <button type="submit" data-action="sync-kinds">Sync these kinds</button>
    </form>
    ${
      data.deltaEnabled
        ? html`<form method="post" action="/console/tenants/${id}/sync">
            <input type="hidden" name="csrf" value="${data.csrf}" />
            <input type="hidden" name="mode" value="delta" />
            <button type="submit" data-action="sync-delta">Delta sync now</button>
          </form>`
        : ''
    }
    ${
      data.canTestConnection
        ? html`<form method="post" action="/console/tenants/${id}/test-connection">
            <input type="hidden" name="csrf" value="${data.csrf}" />
            <button type="submit" data-action="test-connection">Test connection</button>
          </form>`
        : ''
    }
  </section>`;
}

export function tenantPage(data: TenantPageData): Html {
  const { tenant } = data;
  const name = (tenant.Tenant as { name?: string } | undefined)?.name ?? tenant.id;
  return html`<p><a href="/console">← Fleet</a></p>
    <h1>
      ${name} <span class="muted">· <code>${tenant.hierarchy}</code></span>
    </h1>
    ${data.notice ?? ''} ${syncActions(data)}
    ${
      data.connectionTest
        ? html`<h2>Connection test</h2>
            ${table({
              section: 'connection-test',
              columns: ['Check', 'Result', numeric('Took'), 'Detail'],
              rows: data.connectionTest.map((r) => [
                r.check,
                statusWord(r.ok ? 'succeeded' : 'failed'),
                duration(r.durationMs),
                r.detail,
              ]),
            })}`
        : ''
    }
    <h2>Last runs</h2>
    ${
      data.runs.length === 0
        ? html`<p class="muted">No runs yet.</p>`
        : table({
            section: 'runs',
            columns: [
              'Run',
              'Status',
              'Ended',
              numeric('Took'),
              'By',
              'Per kind (created / updated / deleted)',
              'Error',
            ],
            rows: data.runs.map((run) => [
              html`<a href="/console/runs/${run.id}"><code>${run.id.slice(-8)}</code></a
                >${run.mode === 'delta' ? html` <span class="muted">delta</span>` : ''}`,
              statusWord(run.status),
              when(run.endedAt ?? run.startedAt ?? run.queuedAt),
              duration(runDuration(run)),
              html`${run.requestedBy} <span class="muted">(${run.trigger})</span>`,
              Object.entries(run.kinds).map(
                ([kind, k]) =>
                  html`<div>
                    <b>${kind}</b> ${statusWord(k.status)} ${k.created} / ${k.updated} / ${k.deleted}
                  </div>`,
              ),
              errorText(run.error ?? Object.values(run.kinds).find((k) => k.error)?.error),
            ]),
          })
    }
    <h2>Recent changes</h2>
    ${
      data.changes.size === 0
        ? html`<p class="muted">
            The change feed has nothing of these runs (yet, or any more: it keeps changes for a retention
            period).
          </p>`
        : table({
            section: 'changes',
            columns: [
              'Run',
              numeric('Created'),
              numeric('Updated'),
              numeric('Deleted'),
              'First pull of a kind',
            ],
            rows: data.runs
              .filter((run) => data.changes.has(run.id))
              .map((run) => {
                const c = data.changes.get(run.id)!;
                return [
                  html`<a href="/console/runs/${run.id}#changes"><code>${run.id.slice(-8)}</code></a>
                    ${when(run.endedAt)}`,
                  c.created,
                  c.updated,
                  c.deleted,
                  c.baseline > 0 ? `${c.baseline} kind${c.baseline === 1 ? '' : 's'} (baseline)` : '',
                ];
              }),
          })
    }
    <h2>Schedule</h2>
    ${scheduleFacts(data.schedule)}
    <h2>Connection</h2>
    <p class="muted">Secrets are never shown: a secret that is stored reads "set (hidden)".</p>
    ${connectionSummary(tenant)}`;
}
