/**
 * A tenant's schedule, as operators see and change it (`m365sync schedule show|set|clear`,
 * `GET|PUT|DELETE /tenants/:ref/schedule`): the stored override in MongoDB, applied at once to the
 * tenant's job schedulers in Redis (queues/schedules.ts reconciles them).
 */
import type { Queue } from 'bullmq';
import { ValidationError } from '../domain/errors.js';
import {
  DEFAULT_SCHEDULE_SETTINGS,
  effectiveSchedule,
  effectiveSchedulesOf,
  parseScheduleOverride,
  reconcileTenantSchedule,
  schedulerId,
  upsertNightlyScheduler,
  type EffectiveSchedule,
  type ScheduleSettings,
  type ScheduleStores,
} from '../queues/schedules.js';
import { deltaSchedulerId, type EffectiveDeltaSchedule } from '../queues/delta-schedules.js';

export interface DeltaScheduleView extends EffectiveDeltaSchedule {
  /** Whether a delta scheduler exists in Redis for the tenant. */
  active: boolean;
  /** When the next delta run is triggered, if a delta scheduler exists. */
  next?: Date;
}

export interface ScheduleView extends EffectiveSchedule {
  /** When the next trigger fires, if a scheduler exists. */
  next?: Date;
  /** Whether a scheduler exists in Redis for the tenant. */
  active: boolean;
  /** The tenant's delta schedule, beside the nightly one above. */
  delta: DeltaScheduleView;
}

/** `m365sync schedule show <tenant>`. */
export async function showSchedule(
  queue: Queue,
  stores: ScheduleStores,
  tenantId: string,
  settings: ScheduleSettings = DEFAULT_SCHEDULE_SETTINGS,
): Promise<ScheduleView> {
  const [{ schedule, delta }, current, currentDelta] = await Promise.all([
    effectiveSchedulesOf(stores, tenantId, settings),
    queue.getJobScheduler(schedulerId(tenantId)),
    queue.getJobScheduler(deltaSchedulerId(tenantId)),
  ]);
  const deltaView: DeltaScheduleView = { ...delta, active: Boolean(currentDelta) };
  if (currentDelta?.next) deltaView.next = new Date(currentDelta.next);
  const view: ScheduleView = { ...schedule, active: Boolean(current), delta: deltaView };
  if (current?.next) view.next = new Date(current.next);
  return view;
}

/** `m365sync schedule set <tenant> …`: stores the override and applies it at once. */
export async function setSchedule(
  queue: Queue,
  stores: ScheduleStores,
  tenantId: string,
  input: unknown,
  options: { updatedBy?: string; settings?: ScheduleSettings } = {},
): Promise<ScheduleView> {
  const override = parseScheduleOverride(input);
  const schedule = effectiveSchedule(tenantId, override, options.settings ?? DEFAULT_SCHEDULE_SETTINGS);
  if (schedule.enabled) {
    // Let BullMQ check the pattern before it is stored: a stored bad pattern would fail every reconcile.
    try {
      await upsertNightlyScheduler(queue, schedule);
    } catch (error) {
      throw new ValidationError('Schedule', [{ field: 'pattern', message: (error as Error).message }]);
    }
  }
  await stores.schedules.set(tenantId, override, options.updatedBy);
  await reconcileTenantSchedule(queue, stores, tenantId, options.settings);
  return showSchedule(queue, stores, tenantId, options.settings);
}

/** `m365sync schedule clear <tenant>`: back to the default nightly and delta schedules. */
export async function clearSchedule(
  queue: Queue,
  stores: ScheduleStores,
  tenantId: string,
  options: { settings?: ScheduleSettings } = {},
): Promise<ScheduleView> {
  await stores.schedules.clear(tenantId);
  await reconcileTenantSchedule(queue, stores, tenantId, options.settings);
  return showSchedule(queue, stores, tenantId, options.settings);
}
