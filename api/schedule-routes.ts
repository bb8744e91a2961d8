/**
 * A tenant's status and its schedule, for the operator API (registered with the scheduler's trigger
 * queue): `GET /tenants/:ref/status` (the running run, the newest waiting request, the last run, the
 * last successful run, and when the next scheduled sync fires), and the schedules, nightly and delta
 * (`GET`, `PUT` an override, `DELETE` it: back to the defaults), as `m365sync schedule` does.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { clearSchedule, setSchedule, showSchedule } from '../operations/index.js';
import type { Stores } from '../connectors/mongo/index.js';
import { callerOf } from './access.js';
import { queueCall } from './redis-calls.js';
import { type ApiTypeProvider, ERRORS, RefParams, Run, ScheduleBody, ScheduleView } from './schemas.js';

export interface ScheduleRouteOptions {
  stores: Stores;
  triggerQueue: Queue;
  /** How long a request waits for Redis before answering 503. */
  timeoutMs: number;
  /**
   * The process settings, for the default schedules (SCHEDULE_TZ, SCHEDULE_WINDOW_*, M365SYNC_DELTA,
   * SCHEDULE_DELTA_MINUTES) as the scheduler has them; default: the defaults.
   */
  settings?: Settings;
}

/** Statuses of a run that ended (what "the last run" means). */
const ENDED = ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled'] as const;

const TenantStatus = z.object({
  tenantId: z.string(),
  running: Run.nullable().describe('the run in progress, if any'),
  queued: Run.nullable().describe('the newest request waiting for a worker, if any'),
  lastRun: Run.nullable().describe('the newest run that ended, whatever its outcome'),
  lastSuccess: Run.nullable().describe('the newest run that ended succeeded'),
  nextScheduledAt: z.iso
    .datetime()
    .nullable()
    .describe('when the next scheduled sync fires; null when none will'),
  schedule: ScheduleView,
});

const viewer = { access: { needs: 'viewer' as const } };
const admin = { access: { needs: 'admin' as const } };

export function registerScheduleRoutes(app: FastifyInstance, options: ScheduleRouteOptions): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  const { stores } = options;
  const { tenants, runs, kindLists } = stores;
  const { triggerQueue, timeoutMs } = options;
  const deps = { stores, triggers: triggerQueue, settings: options.settings ?? DEFAULT_SETTINGS };
  const redis = <T>(call: () => Promise<T>) => queueCall(triggerQueue, timeoutMs, call);
  const tenantOf = (ref: string, request: FastifyRequest) =>
    tenants.show(ref, { scope: callerOf(request).scope });

  api.get(
    '/tenants/:ref/status',
    {
      config: viewer,
      schema: { tags: ['tenants'], params: RefParams, response: { 200: TenantStatus, ...ERRORS } },
    },
    async (request) => {
      const tenant = await tenantOf(request.params.ref, request);
      const [running, queued, lastRun, lastSuccess, schedule] = await Promise.all([
        runs.latest(tenant.id, ['running']),
        runs.latest(tenant.id, ['queued']),
        runs.latest(tenant.id, ENDED),
        runs.latest(tenant.id, ['succeeded']),
        redis(() => showSchedule(deps, { tenantId: tenant.id })),
      ]);
      return {
        tenantId: tenant.id,
        running,
        queued,
        lastRun,
        lastSuccess,
        nextScheduledAt: schedule.next?.toISOString() ?? null,
        schedule,
      };
    },
  );

  api.get(
    '/tenants/:ref/schedule',
    {
      config: viewer,
      schema: { tags: ['schedules'], params: RefParams, response: { 200: ScheduleView, ...ERRORS } },
    },
    async (request) => {
      const tenant = await tenantOf(request.params.ref, request);
      return redis(() => showSchedule(deps, { tenantId: tenant.id }));
    },
  );

  api.put(
    '/tenants/:ref/schedule',
    {
      config: admin,
      schema: {
        tags: ['schedules'],
        description:
          'Sets the tenant’s schedule override (replacing any earlier one: what is left out goes back to its ' +
          'default): a cron pattern used as given, a time zone, the kinds or kind lists the nightly full pull ' +
          'syncs, `deltaMinutes` between delta runs (0: none; M365SYNC_DELTA=false turns them off whatever ' +
          'it says), or `enabled: false` for no scheduled syncs at all.',
        params: RefParams,
        body: ScheduleBody,
        response: { 200: ScheduleView, ...ERRORS },
      },
    },
    async (request) => {
      const tenant = await tenantOf(request.params.ref, request);
      const { kinds: spec, ...rest } = request.body;
      const input = { ...rest, ...(spec === undefined ? {} : { kinds: await kindLists.resolve(spec) }) };
      return redis(() =>
        setSchedule(deps, { tenantId: tenant.id, schedule: input, updatedBy: callerOf(request).name }),
      );
    },
  );

  api.delete(
    '/tenants/:ref/schedule',
    {
      config: admin,
      schema: {
        tags: ['schedules'],
        description: 'Back to the default nightly and delta schedules.',
        params: RefParams,
        response: { 200: ScheduleView, ...ERRORS },
      },
    },
    async (request) => {
      const tenant = await tenantOf(request.params.ref, request);
      return redis(() => clearSchedule(deps, { tenantId: tenant.id }));
    },
  );
}
