/**
 * Nightly refresh: one BullMQ job scheduler per tenant, id `tenant-<tenantId>`, in the
 * "tenant-sync-triggers" queue. Each firing adds a small trigger job that workers/trigger-worker.ts
 * turns into a de-duplicated sync job (schedulers cannot carry de-duplication themselves).
 *
 * Default schedule: once a night, in the window SCHEDULE_WINDOW_START (default 01:00) plus
 * SCHEDULE_WINDOW_MINUTES (default 240), in SCHEDULE_TZ (default UTC: no daylight-saving gaps or
 * doubled hours). Each tenant starts at a stable offset inside the window, from a hash of its id, so a
 * thousand tenants do not start at the same second and a tenant keeps its slot across redeploys.
 * The offset is written into the cron pattern (seconds first: `s m h * * *`), so `schedule show` prints
 * the exact time. A per-tenant override (collection `schedules`) replaces pattern, zone, kinds, or
 * turns scheduling off; an overridden pattern is used exactly as given.
 *
 * Beside it, a tenant with Graph credentials gets a delta scheduler `delta-<tenantId>` (every
 * SCHEDULE_DELTA_MINUTES, spread by the same hash; queues/delta-schedules.ts), unless M365SYNC_DELTA is
 * off or its override says otherwise (`deltaMinutes`: another interval, or 0 for none; `enabled: false`
 * turns both off).
 *
 * reconcileSchedules() makes the schedulers of both kinds match the tenants: creates the missing,
 * updates the changed, removes those of deleted or disabled tenants (and the delta ones no longer
 * wanted), and leaves the rest untouched (reconciling twice changes nothing: an unchanged scheduler is
 * not even upserted again).
 */
import type { Queue } from 'bullmq';
import { type JobSchedulerJson } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { spreadOffsetSeconds } from '../domain/schedule-spread.js';
import type { ScheduleOverride, Stores } from '../connectors/mongo/index.js';
import { producerQueue, type ProducerOptions, type RedisSettings } from './connection.js';
import {
  DELTA_SCHEDULER_PREFIX,
  deltaSchedulerId,
  effectiveDeltaSchedule,
  sameDeltaScheduler,
  upsertDeltaScheduler,
  type DeltaScheduleSettings,
  type EffectiveDeltaSchedule,
} from './delta-schedules.js';

export const TRIGGER_QUEUE = 'tenant-sync-triggers';
export const TRIGGER_JOB = 'scheduled-sync';
const SCHEDULER_PREFIX = 'tenant-';

export interface ScheduleSettings extends DeltaScheduleSettings {
  tz: string;
  /** Minutes after midnight at which the nightly window opens. */
  windowStartMinute: number;
  windowMinutes: number;
}

/**
 * SCHEDULE_TZ, SCHEDULE_WINDOW_START, SCHEDULE_WINDOW_MINUTES (the zone checked here, by Intl), and the
 * delta schedules' M365SYNC_DELTA and SCHEDULE_DELTA_MINUTES.
 */
export function scheduleSettings(
  e: Pick<
    Settings,
    | 'SCHEDULE_TZ'
    | 'SCHEDULE_WINDOW_START'
    | 'SCHEDULE_WINDOW_MINUTES'
    | 'M365SYNC_DELTA'
    | 'SCHEDULE_DELTA_MINUTES'
  >,
): ScheduleSettings {
  assertTimeZone(e.SCHEDULE_TZ, 'SCHEDULE_TZ');
  const [h, m] = e.SCHEDULE_WINDOW_START.split(':').map(Number) as [number, number];
  return {
    tz: e.SCHEDULE_TZ,
    windowStartMinute: h * 60 + m,
    windowMinutes: e.SCHEDULE_WINDOW_MINUTES,
    deltaEnabled: e.M365SYNC_DELTA,
    deltaMinutes: e.SCHEDULE_DELTA_MINUTES,
  };
}

/** The defaults (tests and tools); a process passes the settings it parsed. */
export const DEFAULT_SCHEDULE_SETTINGS: ScheduleSettings = scheduleSettings(DEFAULT_SETTINGS);

function assertTimeZone(tz: string, field: string): void {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
  } catch {
    throw new ValidationError('Schedule', [
      { field, message: `"${tz}" is not an IANA time zone (e.g. UTC, Europe/London)` },
    ]);
  }
}

export { spreadOffsetSeconds };

/** The default nightly pattern of a tenant: window start plus its offset, with seconds. */
export function defaultPattern(tenantId: string, settings: ScheduleSettings): string {
  const offset = spreadOffsetSeconds(tenantId, settings.windowMinutes);
  const minuteOfDay = (settings.windowStartMinute + Math.floor(offset / 60)) % 1440;
  return `${offset % 60} ${minuteOfDay % 60} ${Math.floor(minuteOfDay / 60)} * * *`;
}

export interface EffectiveSchedule {
  tenantId: string;
  enabled: boolean;
  pattern: string;
  tz: string;
  kinds?: string[];
  /** 'default' (spread nightly) or 'override' (from the schedules collection). */
  source: 'default' | 'override';
}

export function effectiveSchedule(
  tenantId: string,
  override: ScheduleOverride | null | undefined,
  settings: ScheduleSettings,
): EffectiveSchedule {
  const out: EffectiveSchedule = {
    tenantId,
    enabled: override?.enabled ?? true,
    pattern: override?.pattern ?? defaultPattern(tenantId, settings),
    tz: override?.tz ?? settings.tz,
    source: override ? 'override' : 'default',
  };
  if (override?.kinds) out.kinds = override.kinds;
  return out;
}

const CRON_FIELD = /^[0-9A-Za-z*,/?LW#-]+$/;
const OverrideInput = z
  .object({
    pattern: z
      .string()
      .trim()
      .refine(
        (p) => [5, 6].includes(p.split(/\s+/).length) && p.split(/\s+/).every((f) => CRON_FIELD.test(f)),
        {
          message: 'must be a cron pattern of 5 fields (or 6, seconds first), e.g. "0 3 * * *"',
        },
      )
      .optional(),
    tz: z.string().optional(),
    enabled: z.boolean().default(true),
    kinds: z
      .array(z.enum(ENTITY_KIND_NAMES as [string, ...string[]]))
      .min(1)
      .optional(),
    deltaMinutes: z
      .number({ error: 'must be a whole number of minutes from 0 (no delta runs) to 1440' })
      .int('must be a whole number of minutes from 0 (no delta runs) to 1440')
      .min(0, 'must be a whole number of minutes from 0 (no delta runs) to 1440')
      .max(1440, 'must be a whole number of minutes from 0 (no delta runs) to 1440')
      .optional(),
  })
  .strict();

/** Checks an operator's schedule override (`m365sync schedule set`). */
export function parseScheduleOverride(input: unknown): ScheduleOverride {
  const parsed = OverrideInput.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(
      'Schedule',
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(schedule)', message: i.message })),
    );
  }
  if (parsed.data.tz) assertTimeZone(parsed.data.tz, 'tz');
  const out: ScheduleOverride = { enabled: parsed.data.enabled };
  if (parsed.data.pattern) out.pattern = parsed.data.pattern;
  if (parsed.data.tz) out.tz = parsed.data.tz;
  if (parsed.data.kinds) out.kinds = parsed.data.kinds;
  if (parsed.data.deltaMinutes !== undefined) out.deltaMinutes = parsed.data.deltaMinutes;
  return out;
}

export function createTriggerQueue(redis: RedisSettings, options: ProducerOptions = {}): Queue {
  return producerQueue(TRIGGER_QUEUE, redis, options);
}

export function schedulerId(tenantId: string): string {
  return `${SCHEDULER_PREFIX}${tenantId}`;
}

interface TriggerData {
  tenantId: string;
  kinds?: string[];
}

function triggerData(schedule: EffectiveSchedule): TriggerData {
  return schedule.kinds
    ? { tenantId: schedule.tenantId, kinds: schedule.kinds }
    : { tenantId: schedule.tenantId };
}

function sameScheduler(existing: JobSchedulerJson<TriggerData>, schedule: EffectiveSchedule): boolean {
  return (
    existing.pattern === schedule.pattern &&
    (existing.tz ?? undefined) === schedule.tz &&
    existing.name === TRIGGER_JOB &&
    JSON.stringify(existing.template?.data ?? null) === JSON.stringify(triggerData(schedule))
  );
}

/** Creates or replaces the tenant's nightly job scheduler (BullMQ checks the pattern). */
export async function upsertNightlyScheduler(queue: Queue, schedule: EffectiveSchedule): Promise<void> {
  await queue.upsertJobScheduler(
    schedulerId(schedule.tenantId),
    { pattern: schedule.pattern, tz: schedule.tz },
    {
      name: TRIGGER_JOB,
      data: triggerData(schedule),
      opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 1000 }, attempts: 3 },
    },
  );
}

export interface SchedulerChanges {
  created: string[];
  updated: string[];
  unchanged: number;
  removed: string[];
  /** Tenants whose scheduler could not be written (e.g. a pattern BullMQ rejects), with the reason. */
  failed: { tenantId: string; message: string }[];
}

/** What a reconcile changed: the nightly schedulers (tenant ids), and the delta ones apart. */
export interface ReconcileResult extends SchedulerChanges {
  delta: SchedulerChanges;
}

/** The stores schedules read: the tenants (ids, and which have Graph credentials) and the overrides. */
export type ScheduleStores = Pick<Stores, 'tenants' | 'schedules'>;

/** Every tenant's id. */
async function tenantIds(stores: ScheduleStores): Promise<string[]> {
  return (await stores.tenants.refs()).map((t) => t.id);
}

async function existingSchedulers(queue: Queue): Promise<Map<string, JobSchedulerJson<TriggerData>>> {
  const list = (await queue.getJobSchedulers(0, -1, true)) as JobSchedulerJson<TriggerData>[];
  return new Map(list.map((s) => [s.key, s]));
}

const noChanges = (): SchedulerChanges => ({
  created: [],
  updated: [],
  unchanged: 0,
  removed: [],
  failed: [],
});

/**
 * Makes one scheduler match what is wanted (`write` when it differs), noting the change. A failed
 * write is noted, not thrown: one tenant's bad override must not stop the others' schedules.
 */
async function apply(
  changes: SchedulerChanges,
  tenantId: string,
  current: JobSchedulerJson<TriggerData> | undefined,
  same: (existing: JobSchedulerJson<TriggerData>) => boolean,
  write: () => Promise<void>,
): Promise<void> {
  if (current && same(current)) {
    changes.unchanged++;
    return;
  }
  try {
    await write();
    (current ? changes.updated : changes.created).push(tenantId);
  } catch (error) {
    changes.failed.push({ tenantId, message: (error as Error).message });
  }
}

/** Makes every tenant's schedulers match its effective schedules, and removes the rest. Idempotent. */
export async function reconcileSchedules(
  queue: Queue,
  stores: ScheduleStores,
  settings: ScheduleSettings = DEFAULT_SCHEDULE_SETTINGS,
): Promise<ReconcileResult> {
  const [ids, overrides, existing, credentialed] = await Promise.all([
    tenantIds(stores),
    stores.schedules.all(),
    existingSchedulers(queue),
    // Not asked when delta is off for the installation: no delta scheduler is wanted then.
    settings.deltaEnabled ? stores.tenants.withGraphCredentials() : new Set<string>(),
  ]);
  const result: ReconcileResult = { ...noChanges(), delta: noChanges() };
  const wanted = new Set<string>();
  for (const tenantId of ids) {
    const override = overrides.get(tenantId);
    const schedule = effectiveSchedule(tenantId, override, settings);
    if (schedule.enabled) {
      const id = schedulerId(tenantId);
      wanted.add(id);
      await apply(
        result,
        tenantId,
        existing.get(id),
        (current) => sameScheduler(current, schedule),
        () => upsertNightlyScheduler(queue, schedule),
      );
    }
    const delta = effectiveDeltaSchedule(tenantId, override, settings, credentialed.has(tenantId));
    if (delta.enabled) {
      const id = deltaSchedulerId(tenantId);
      wanted.add(id);
      await apply(
        result.delta,
        tenantId,
        existing.get(id),
        (current) => sameDeltaScheduler(current, tenantId, delta),
        () => upsertDeltaScheduler(queue, tenantId, delta),
      );
    }
  }
  for (const id of existing.keys()) {
    if (wanted.has(id)) continue;
    for (const [prefix, changes] of [
      [SCHEDULER_PREFIX, result],
      [DELTA_SCHEDULER_PREFIX, result.delta],
    ] as const) {
      if (!id.startsWith(prefix)) continue;
      await queue.removeJobScheduler(id);
      changes.removed.push(id.slice(prefix.length));
    }
  }
  return result;
}

export type TenantReconcileOutcome = 'created' | 'updated' | 'unchanged' | 'removed' | 'none';

/** Makes one scheduler be `wanted` (written by `write` when it differs), or be gone when not wanted. */
async function reconcileOne(
  queue: Queue,
  id: string,
  wanted: boolean,
  same: (existing: JobSchedulerJson<TriggerData>) => boolean,
  write: () => Promise<void>,
): Promise<TenantReconcileOutcome> {
  const current = (await queue.getJobScheduler(id)) as JobSchedulerJson<TriggerData> | undefined;
  if (!wanted) {
    if (!current) return 'none';
    await queue.removeJobScheduler(id);
    return 'removed';
  }
  if (current && same(current)) return 'unchanged';
  await write();
  return current ? 'updated' : 'created';
}

/**
 * Reconciles one tenant's schedulers, nightly and delta, at once (after `schedule set|clear`, or a
 * tenant added, changed, removed).
 */
export async function reconcileTenantSchedule(
  queue: Queue,
  stores: ScheduleStores,
  tenantId: string,
  settings: ScheduleSettings = DEFAULT_SCHEDULE_SETTINGS,
): Promise<{ nightly: TenantReconcileOutcome; delta: TenantReconcileOutcome }> {
  const { exists, schedule, delta } = await effectiveSchedulesOf(stores, tenantId, settings);
  const nightly = await reconcileOne(
    queue,
    schedulerId(tenantId),
    exists && schedule.enabled,
    (current) => sameScheduler(current, schedule),
    () => upsertNightlyScheduler(queue, schedule),
  );
  const deltaOutcome = await reconcileOne(
    queue,
    deltaSchedulerId(tenantId),
    exists && delta.enabled,
    (current) => sameDeltaScheduler(current, tenantId, delta),
    () => upsertDeltaScheduler(queue, tenantId, delta),
  );
  return { nightly, delta: deltaOutcome };
}

/** A tenant's effective nightly and delta schedules, and whether it exists. */
export async function effectiveSchedulesOf(
  stores: ScheduleStores,
  tenantId: string,
  settings: ScheduleSettings,
): Promise<{ exists: boolean; schedule: EffectiveSchedule; delta: EffectiveDeltaSchedule }> {
  const [exists, override, credentialed] = await Promise.all([
    stores.tenants.ref(tenantId).then(Boolean),
    stores.schedules.get(tenantId),
    stores.tenants.withGraphCredentials([tenantId]),
  ]);
  return {
    exists,
    schedule: effectiveSchedule(tenantId, override, settings),
    delta: effectiveDeltaSchedule(tenantId, override, settings, credentialed.has(tenantId)),
  };
}
