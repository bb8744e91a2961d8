/**
 * Builds a run's RunContext (workers/processor.ts) from the worker's stores and the run's lease: one
 * KindWriter per kind for the whole run, every write and sweep behind the run's fence, the sweep
 * behind mass-delete protection. The stores and the fence stay here; the processor sees only the
 * context's functions.
 */
import type { Logger } from 'pino';
import type { KindWriter, PageCounts, Stores, TenantRef, WriteFence } from '../connectors/mongo/index.js';
import type { KindResult } from '../domain/sync-run.js';
import type { DeleteProtectionSettings } from '../domain/delete-protection.js';
import { SyncError } from '../domain/errors.js';
import type { SyncProgress } from '../queues/sync-queue.js';
import type { RunContext } from './processor.js';
import type { SyncMode } from '../domain/delta.js';
import { guardedSweep } from './steps/guarded-sweep.js';

export interface RunContextOptions {
  runId: string;
  jobId: string;
  attempt: number;
  tenant: TenantRef;
  signal: AbortSignal;
  kinds?: string[];
  mode?: SyncMode;
  /** The lease's fence, refused by `cancelled()` once the run is cancelled. */
  fence: WriteFence;
  /** Why the run was cancelled, once it was (its signal aborted); undefined while it goes on. */
  cancelled(): string | undefined;
  stores: Pick<Stores, 'objects' | 'sweepRecords' | 'runs' | 'deleteProtection' | 'changes' | 'deltaStates'>;
  /** Reports progress to the queue (the job's `updateProgress`). */
  progress(progress: SyncProgress & { runId: string }): Promise<unknown>;
  logger: Logger;
}

/**
 * What the run did, as its context saw it: each kind's recorded result, and the kinds that wrote
 * without recording one (cut short), as `cancelled` with what they wrote. A run that ends without its
 * processor's summary (abandoned, or failed) is recorded with these, so its record lists every kind it
 * wrote.
 */
export interface RunTally {
  tally(): Record<string, KindResult>;
}

export function createRunContext(options: RunContextOptions): RunContext & RunTally {
  const { runId, tenant, stores } = options;
  // Once the run is cancelled it writes nothing more, whatever its processor still has in flight.
  const fence: WriteFence = {
    tenantId: options.fence.tenantId,
    token: options.fence.token,
    assertCurrent: () => {
      const reason = options.cancelled();
      if (reason !== undefined)
        return Promise.reject(
          new SyncError('CANCELLED', `The sync run was cancelled (${reason}); it writes nothing more.`),
        );
      return options.fence.assertCurrent();
    },
  };
  // Read once per run, when the first sweep needs them: one run applies one set of thresholds.
  let protectionSettings: Promise<DeleteProtectionSettings> | undefined;
  const settingsOnce = () => (protectionSettings ??= stores.deleteProtection.settings());
  // One writer per kind for the whole run: it holds the kind's stored picture and what the run saw.
  const writers = new Map<string, KindWriter>();
  // One recorder for the whole run: the kinds' change records share the tenant's sequence.
  const changes = stores.changes.recorder(tenant.id, runId, fence);
  const recorded = new Map<string, KindResult>();
  const written = new Map<string, PageCounts>();
  const writerOf = (kind: string): KindWriter => {
    let writer = writers.get(kind);
    if (!writer) writers.set(kind, (writer = stores.objects.writer(kind, tenant, runId, fence, changes)));
    return writer;
  };
  return {
    runId,
    jobId: options.jobId,
    attempt: options.attempt,
    signal: options.signal,
    tenant,
    ...(options.kinds ? { kinds: options.kinds } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    logger: options.logger,
    writePage: async (kind, page) => {
      const counts = await writerOf(kind).write(page);
      const sum = written.get(kind) ?? { created: 0, updated: 0, unchanged: 0 };
      written.set(kind, {
        created: sum.created + counts.created,
        updated: sum.updated + counts.updated,
        unchanged: sum.unchanged + counts.unchanged,
      });
      return counts;
    },
    guardedSweep: (kind) =>
      guardedSweep({
        kind,
        tenant,
        runId,
        fence,
        writer: writerOf(kind),
        records: stores.sweepRecords,
        settings: settingsOnce,
      }),
    progress: async (p) => {
      await options.progress({ ...p, runId });
    },
    recordKind: (kind, result) => {
      recorded.set(kind, result);
      return stores.runs.recordKind(runId, kind, result);
    },
    tally: () => {
      const kinds: Record<string, KindResult> = {};
      for (const [kind, counts] of written)
        kinds[kind] = { status: 'cancelled', ...counts, deleted: 0, durationMs: 0 };
      return { ...kinds, ...Object.fromEntries(recorded) };
    },
    prepare: async (kind) => {
      await writerOf(kind).stored();
    },
    seen: (kind, externalId) => writerOf(kind).seen(externalId),
    stored: (kind) => stores.objects.storedKeys(kind, tenant.id),
    namedOnly: (kind) => writerOf(kind).namedOnly(),
    storedData: (kind, externalIds) => writerOf(kind).storedData(externalIds),
    keepAllBut: (kind, removed) => writerOf(kind).keepAllBut(removed),
    saveDeltaState: (kind, state) => stores.deltaStates.save(fence, kind, runId, state),
  };
}
