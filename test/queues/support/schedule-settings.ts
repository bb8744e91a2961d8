import { DEFAULT_SETTINGS, type Settings } from '../../../domain/settings.js';
import type { ScheduleSettings } from '../../../queues/schedules.js';

/**
 * The process settings a ScheduleSettings is made from (queues/schedules.ts scheduleSettings): what
 * the schedule operations take (deps.settings), for tests that state their schedules directly.
 */
export function settingsFor(schedule: ScheduleSettings): Settings {
  const hh = String(Math.floor(schedule.windowStartMinute / 60)).padStart(2, '0');
  const mm = String(schedule.windowStartMinute % 60).padStart(2, '0');
  return {
    ...DEFAULT_SETTINGS,
    SCHEDULE_TZ: schedule.tz,
    SCHEDULE_WINDOW_START: `${hh}:${mm}`,
    SCHEDULE_WINDOW_MINUTES: schedule.windowMinutes,
    M365SYNC_DELTA: schedule.deltaEnabled,
    SCHEDULE_DELTA_MINUTES: schedule.deltaMinutes,
  };
}
