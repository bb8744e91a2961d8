/**
 * Delta schedules (docs/engine.md "Delta schedules"): beside its nightly full pull, each tenant with
 * Graph credentials gets a second BullMQ job scheduler, id `delta-<tenantId>`, in the same trigger
 * queue, firing a trigger `{ tenantId, mode: 'delta' }` every SCHEDULE_DELTA_MINUTES (default 15) that
 * workers/trigger-worker.ts turns into a delta run. queues/schedules.ts reconciles both kinds together;
 * this file says what a tenant's delta schedule is and how its scheduler is written.
 *
 * Why `every` with an offset, not a cron pattern: a cron pattern can spread tenants over an interval
 * only when the interval divides the hour (or the day), and SCHEDULE_DELTA_MINUTES may be 7 or 90.
 * BullMQ's `every` with `offset` fires at the multiples of the interval since the Unix epoch plus the
 * offset, so a tenant's phase is fixed by its offset alone: the same across redeploys and scheduler
 * restarts, independent of when the scheduler was created, and free of time zones and daylight
 * saving (an interval is absolute time). The offset is the tenant's stable hash offset
 * (spreadOffsetSeconds, as the nightly window uses) within the interval, so a thousand tenants do not
 * fire in the same second. A new scheduler waits for its tenant's next slot (BullMQ fires an `every`
 * scheduler at once only when it has no offset; a zero offset is therefore written as one whole
 * interval, the same phase).
 *
 * Why `delta-` and not `tenant-delta-`: a scheduler of an earlier version removes every `tenant-…`
 * scheduler that is not a tenant's nightly one, so during a rolling upgrade it would delete the delta
 * schedulers the new version keeps making.
 */
import type { JobSchedulerJson, Queue } from 'bullmq';
import type { ScheduleOverride } from '../connectors/mongo/index.js';
import { spreadOffsetSeconds } from '../domain/schedule-spread.js';

export const DELTA_TRIGGER_JOB = 'scheduled-delta';
export const DELTA_SCHEDULER_PREFIX = 'delta-';

export function deltaSchedulerId(tenantId: string): string {
  return `${DELTA_SCHEDULER_PREFIX}${tenantId}`;
}

/** The installation's delta settings: M365SYNC_DELTA and SCHEDULE_DELTA_MINUTES. */
export interface DeltaScheduleSettings {
  deltaEnabled: boolean;
  /** Minutes between a tenant's delta runs by default; 0: none by default (an override may still set one). */
  deltaMinutes: number;
}

/** Why a tenant has no delta schedule. */
export const DELTA_OFF_REASONS = [
  /** M365SYNC_DELTA=false: delta is off for the whole installation (no override turns it on). */
  'installation_off',
  /** The tenant's schedule override turns every schedule off (`schedule set --disable`). */
  'schedule_disabled',
  /** The tenant's override sets no delta runs (`schedule set --no-delta`). */
  'override',
  /** SCHEDULE_DELTA_MINUTES=0 and no override sets an interval. */
  'no_interval',
  /** No Microsoft 365 client id with a client secret or a certificate: nothing a delta run could use. */
  'no_graph_credentials',
] as const;
export type DeltaOffReason = (typeof DELTA_OFF_REASONS)[number];

/** Each reason in words, for people (`m365sync schedule show`). */
export const DELTA_OFF_TEXT: Record<DeltaOffReason, string> = {
  installation_off: 'delta sync is off for this installation (M365SYNC_DELTA=false)',
  schedule_disabled: "the tenant's scheduled syncs are disabled",
  override: "the tenant's schedule sets no delta runs",
  no_interval: 'SCHEDULE_DELTA_MINUTES is 0 and the tenant sets no interval of its own',
  no_graph_credentials:
    'the tenant has no Graph credentials (Microsoft 365 client_id with a client_secret or a certificate)',
};

export interface EffectiveDeltaSchedule {
  enabled: boolean;
  /** Minutes between runs (0: none). */
  everyMinutes: number;
  /** Seconds past each multiple of the interval (since the Unix epoch) at which it fires; when enabled. */
  offsetSeconds?: number;
  /** Where the interval comes from: SCHEDULE_DELTA_MINUTES or the tenant's override. */
  source: 'default' | 'override';
  /** When not enabled: why. */
  off?: DeltaOffReason;
}

export function effectiveDeltaSchedule(
  tenantId: string,
  override: ScheduleOverride | null | undefined,
  settings: DeltaScheduleSettings,
  hasGraphCredentials: boolean,
): EffectiveDeltaSchedule {
  const fromOverride = override?.deltaMinutes !== undefined;
  const everyMinutes = override?.deltaMinutes ?? settings.deltaMinutes;
  const base = { everyMinutes, source: fromOverride ? ('override' as const) : ('default' as const) };
  const off: DeltaOffReason | undefined = !settings.deltaEnabled
    ? 'installation_off'
    : override?.enabled === false
      ? 'schedule_disabled'
      : everyMinutes === 0
        ? fromOverride
          ? 'override'
          : 'no_interval'
        : !hasGraphCredentials
          ? 'no_graph_credentials'
          : undefined;
  if (off) return { ...base, enabled: false, off };
  return { ...base, enabled: true, offsetSeconds: spreadOffsetSeconds(tenantId, everyMinutes) };
}

export interface DeltaTriggerData {
  tenantId: string;
  mode: 'delta';
}

/** The scheduler's `every` and `offset`, in milliseconds (BullMQ reads offset 0 as none: see above). */
function repeatOf(schedule: EffectiveDeltaSchedule): { every: number; offset: number } {
  const every = schedule.everyMinutes * 60_000;
  return { every, offset: (schedule.offsetSeconds ?? 0) * 1000 || every };
}

/** Whether an existing scheduler is exactly this delta schedule (then it is left untouched). */
export function sameDeltaScheduler(
  existing: JobSchedulerJson<unknown>,
  tenantId: string,
  schedule: EffectiveDeltaSchedule,
): boolean {
  const { every, offset } = repeatOf(schedule);
  const data: DeltaTriggerData = { tenantId, mode: 'delta' };
  return (
    !existing.pattern &&
    Number(existing.every) === every &&
    Number(existing.offset ?? 0) === offset &&
    existing.name === DELTA_TRIGGER_JOB &&
    JSON.stringify(existing.template?.data ?? null) === JSON.stringify(data)
  );
}

export async function upsertDeltaScheduler(
  queue: Queue,
  tenantId: string,
  schedule: EffectiveDeltaSchedule,
): Promise<void> {
  const data: DeltaTriggerData = { tenantId, mode: 'delta' };
  await queue.upsertJobScheduler(deltaSchedulerId(tenantId), repeatOf(schedule), {
    name: DELTA_TRIGGER_JOB,
    data,
    opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 1000 }, attempts: 3 },
  });
}
