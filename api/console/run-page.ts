/**
 * A run's page: its status and who asked for it, each kind's status, counts, duration and error (its
 * code and what to do), the deletes delete protection held back (how many per kind, with a sample),
 * the changes it recorded, and, while it is queued or running, its live progress (live.js) and, for
 * operators, a cancel button. Approving held deletes has a page of its own: the confirmation step.
 */
import type { Caller } from '../../domain/access.js';
import { roleAllows } from '../../domain/access.js';
import type { Change } from '../../domain/changes.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { html, numeric, table, type Html } from './html.js';
import { duration, errorText, statusWord, when } from './layout.js';
import { runDuration } from './tenant-page.js';

export interface RunPageData {
  run: SyncRun;
  tenantName: string;
  caller: Caller;
  csrf: string;
  changes: Change[];
  moreChanges: boolean;
  notice?: Html;
}

export const isActive = (run: SyncRun) => run.status === 'queued' || run.status === 'running';

/** Held sweeps an operator has not approved yet. */
export function pendingHeld(run: SyncRun) {
  return Object.entries(run.kinds).filter(
    ([, k]) => k.status === 'needs_review' && k.held && !k.held.approval,
  );
}

/** What live.js reads while the run goes on. */
export function runProgress(run: SyncRun) {
  const kinds = Object.values(run.kinds);
  return {
    status: run.status.replace('_', ' '),
    ended: !isActive(run),
    kindsDone: kinds.length,
    objects: kinds.reduce((n, k) => n + k.created + k.updated + k.unchanged, 0),
    elapsed: duration(runDuration(run)),
  };
}

function actions(data: RunPageData): Html {
  const { run } = data;
  if (!roleAllows(data.caller.role, 'operator')) return html``;
  const cancel = isActive(run) && !run.cancelRequested;
  const approve = pendingHeld(run).length > 0;
  if (!cancel && !approve) return html``;
  return html`<section class="actions" aria-label="Actions">
    ${cancel ? html`<form method="post" action="/console/runs/${run.id}/cancel"><input type="hidden" name="csrf" value="${data.csrf}" /><button type="submit" class="danger" data-action="cancel">Cancel this run</button></form>` : ''}
    ${approve ? html`<a href="/console/runs/${run.id}/approve" data-action="approve">Review and approve the held deletes…</a>` : ''}
  </section>`;
}

function heldSection(run: SyncRun): Html {
  const held = Object.entries(run.kinds).filter(([, k]) => k.held);
  if (held.length === 0) return html``;
  return html`<h2 id="held">Held deletes</h2>
    <p>
      Delete protection stopped these sweeps: the objects below are gone from Microsoft 365 but still stored.
    </p>
    ${held.map(([kind, k]) => {
      const h = k.held!;
      return html`<section data-held="${kind}">
        <h3>${kind}: ${h.wouldDelete} of ${h.stored} would go</h3>
        <p>
          Limit ${h.limit} (${h.threshold}, from
          ${h.origin}).${h.approval ? html` Approved by <b>${h.approval.by}</b> ${when(h.approval.at)}: ${h.approval.deleted} deleted.` : ''}
        </p>
        <details>
          <summary>A sample of what would go (${h.sample.length})</summary>
          <ul>
            ${h.sample.map((id) => html`<li><code>${id}</code></li>`)}
          </ul>
        </details>
      </section>`;
    })}`;
}

export function runPage(data: RunPageData): Html {
  const { run } = data;
  const active = isActive(run);
  const progress = runProgress(run);
  return html`<p><a href="/console/tenants/${run.tenantId}">← ${data.tenantName}</a></p>
    <h1>Run <code>${run.id}</code></h1>
    ${data.notice ?? ''}
    <div ${active ? html`data-live="/console/runs/${run.id}/progress"` : ''}>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span data-field="status" class="status status-${run.status}">${progress.status}</span
          >${run.cancelRequested ? html` <span class="muted">(cancel asked by ${run.cancelRequested.by})</span>` : ''}${run.willRetry ? html` <span class="muted">(the queue tries again)</span>` : ''}
        </dd>
        <dt>Tenant</dt>
        <dd>
          <a href="/console/tenants/${run.tenantId}">${data.tenantName}</a> <code>${run.hierarchy}</code>
        </dd>
        <dt>Mode</dt>
        <dd>
          ${run.mode === 'delta' ? 'delta' : 'full pull'}${run.kindsRequested ? html`; kinds ${run.kindsRequested.join(', ')}` : ''}
        </dd>
        <dt>Asked by</dt>
        <dd>${run.requestedBy} (${run.trigger}), attempt ${run.attempt}</dd>
        <dt>Queued</dt>
        <dd>
          ${run.queuedAt ? when(run.queuedAt) : html`<span class="muted">not recorded (a retry or a job without a request record)</span>`}
        </dd>
        <dt>Started</dt>
        <dd>${run.startedAt ? when(run.startedAt) : html`<span class="muted">not yet</span>`}</dd>
        <dt>Ended</dt>
        <dd>${active ? html`<span class="muted">not yet</span>` : when(run.endedAt)}</dd>
        <dt>Took</dt>
        <dd data-field="elapsed">${progress.elapsed}</dd>
        ${
          active
            ? html`<dt>Kinds done</dt>
                <dd data-field="kinds-done">${progress.kindsDone}</dd>
                <dt>Objects read</dt>
                <dd data-field="objects">${progress.objects}</dd>`
            : ''
        }
        ${
          run.mergedInto
            ? html`<dt>Merged into</dt>
                <dd>
                  <a href="/console/runs/${run.mergedInto}"><code>${run.mergedInto}</code></a>
                </dd>`
            : ''
        }
      </dl>
      ${active ? html`<p class="muted" id="live-note" role="status">The run is still going: <a href="/console/runs/${run.id}">refresh</a> to see how far it is.</p>` : ''}
    </div>
    ${
      run.error
        ? html`<h2>Error</h2>
            ${errorText(run.error)}`
        : ''
    }
    ${actions(data)}
    <h2>Kinds</h2>
    ${
      Object.keys(run.kinds).length === 0
        ? html`<p class="muted">No kind has finished yet.</p>`
        : table({
            section: 'kinds',
            columns: [
              'Kind',
              'Status',
              numeric('Created'),
              numeric('Updated'),
              numeric('Unchanged'),
              numeric('Deleted'),
              numeric('Took'),
              'Error',
            ],
            rows: Object.entries(run.kinds).map(([kind, k]) => ({
              attributes: html`data-kind="${kind}"`,
              cells: [
                html`${kind}${k.sync ? html` <span class="muted">${k.sync}</span>` : ''}`,
                statusWord(k.status),
                k.created,
                k.updated,
                k.unchanged,
                k.deleted,
                duration(k.durationMs),
                html`${errorText(k.error)}${k.fallback ? html`<div class="muted">Pulled in full: ${k.fallback.message}</div>` : ''}`,
              ],
            })),
          })
    }
    ${heldSection(run)}
    <h2 id="changes">Changes recorded</h2>
    ${
      data.changes.length === 0
        ? html`<p class="muted">None in the change feed.</p>`
        : html`${table({
            section: 'changes',
            columns: ['Kind', 'Change', 'Object', 'Fields'],
            rows: data.changes.map((c) => [
              c.kind,
              c.op,
              html`<code>${c.externalId ?? ''}</code>`,
              (c.fields ?? []).join(', '),
            ]),
          })}
          ${data.moreChanges ? html`<p class="muted">The first ${data.changes.length} are shown; <code>m365sync changes --run ${run.id}</code> lists them all.</p>` : ''}`
    }`;
}

/** The confirmation step before held deletes go: what goes, per kind, and a box to tick. */
export function approvePage(data: {
  run: SyncRun;
  tenantName: string;
  csrf: string;
  problem?: string;
}): Html {
  const pending = pendingHeld(data.run);
  const total = pending.reduce((n, [, k]) => n + k.held!.wouldDelete, 0);
  return html`<p><a href="/console/runs/${data.run.id}">← Run</a></p>
    <h1>Approve held deletes of ${data.tenantName}</h1>
    ${data.problem ? html`<p class="notice bad" role="alert">${data.problem}</p>` : ''}
    <p>
      Approving deletes, from the stored copy, the objects this run found gone and delete protection held back
      (only those still unseen since). It cannot be undone here; the next run brings back any that return.
    </p>
    ${table({
      columns: ['Kind', numeric('Would delete'), numeric('Stored'), 'Sample'],
      rows: pending.map(([kind, k]) => [
        kind,
        k.held!.wouldDelete,
        k.held!.stored,
        html`${k.held!.sample.slice(0, 5).map((id) => html`<code>${id}</code> `)}${k.held!.sample.length > 5 ? '…' : ''}`,
      ]),
    })}
    <form method="post" action="/console/runs/${data.run.id}/approve-deletes" class="actions">
      <input type="hidden" name="csrf" value="${data.csrf}" />
      <label class="inline"
        ><input type="checkbox" name="confirm" value="yes" required /> I have looked at what goes: delete
        ${total} held object${total === 1 ? '' : 's'}</label
      >
      <button type="submit" class="danger" data-action="approve-confirm">Delete them</button>
    </form>`;
}
