/**
 * A tenant's schedule, as operators see and change it (`m365sync schedule show|set|clear`,
 * `GET|PUT|DELETE /tenants/:ref/schedule`): the stored override in MongoDB, applied at once to the
 * tenant's job schedulers in Redis (queues/schedules.ts reconciles them).
 */
import { ValidationError } from '../domain/errors.js';
import {
  effectiveSchedule,
  effectiveSchedulesOf,
  parseScheduleOverride,
  reconcileTenantSchedule,
  scheduleSettings,
  schedulerId,
  upsertNightlyScheduler,
  type EffectiveSchedule,
} from '../queues/schedules.js';
import { deltaSchedulerId, type EffectiveDeltaSchedule } from '../queues/delta-schedules.js';
import type { Uses } from './deps.js';

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

/** What the schedule operations use: the tenants and schedules, the trigger queue and the settings. */
export type ScheduleDeps = Uses<'tenants' | 'schedules', 'triggers' | 'settings'>;

/** `m365sync schedule show <tenant>`. */
export async function showSchedule(deps: ScheduleDeps, input: { tenantId: string }): Promise<ScheduleView> {
  const { triggers: queue, stores } = deps;
  const { tenantId } = input;
  const [{ schedule, delta }, current, currentDelta] = await Promise.all([
    effectiveSchedulesOf(stores, tenantId, scheduleSettings(deps.settings)),
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
  deps: ScheduleDeps,
  input: { tenantId: string; schedule: unknown; updatedBy?: string },
): Promise<ScheduleView> {
  const { triggers: queue, stores } = deps;
  const { tenantId } = input;
  const settings = scheduleSettings(deps.settings);
  const override = parseScheduleOverride(input.schedule);
  const schedule = effectiveSchedule(tenantId, override, settings);
  if (schedule.enabled) {
    // Let BullMQ check the pattern before it is stored: a stored bad pattern would fail every reconcile.
    try {
      await upsertNightlyScheduler(queue, schedule);
    } catch (error) {
      throw new ValidationError('Schedule', [{ field: 'pattern', message: (error as Error).message }]);
    }
  }
  await stores.schedules.set(tenantId, override, input.updatedBy);
  await reconcileTenantSchedule(queue, stores, tenantId, settings);
  return showSchedule(deps, { tenantId });
}

/** `m365sync schedule clear <tenant>`: back to the default nightly and delta schedules. */
export async function clearSchedule(deps: ScheduleDeps, input: { tenantId: string }): Promise<ScheduleView> {
  await deps.stores.schedules.clear(input.tenantId);
  await reconcileTenantSchedule(deps.triggers, deps.stores, input.tenantId, scheduleSettings(deps.settings));
  return showSchedule(deps, input);
}
