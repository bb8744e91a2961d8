/**
 * The operator API's schemas (zod, through fastify-type-provider-zod): what each route takes and
 * answers. Fastify checks requests against them (a failure is a 400 in the API's one error shape) and
 * @fastify/swagger turns them into the OpenAPI document served at /docs. Response schemas describe
 * answers as they go on the wire (dates as ISO strings) and are loose: they name what a client may
 * rely on, and answers may carry more.
 */
import type { FastifyTypeProvider } from 'fastify';
import { z } from 'zod';
import { RUN_STATUSES } from '../domain/sync-run.js';
import { ROLES } from '../domain/access.js';
import { HIERARCHY } from '../domain/tenant.js';
import { WEBHOOK_STATUSES } from '../domain/webhooks.js';
import { DELTA_OFF_REASONS } from '../queues/delta-schedules.js';

/**
 * Requests are typed from their schemas (as fastify-type-provider-zod's ZodTypeProvider does);
 * answers are not, since routes answer with the stores' objects (dates as Date) and the schemas
 * describe the wire (dates as strings). The API's checkResponses option checks answers at run time.
 */
export interface ApiTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: unknown;
}

/** Every error the API answers: a stable code, a message for people, and field-named problems for bad input. */
export const ErrorBody = z
  .object({
    code: z.string().describe('stable code: INVALID_INPUT, NOT_FOUND, CONFLICT, AUTHENTICATION, …'),
    message: z.string(),
    problems: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe(
        'for INVALID_INPUT: each problem with the field (body path, query or path parameter) it is about',
      ),
  })
  .meta({ id: 'Error' });

/** Error answers of every route (401, 403, 404, 409, 415, 421, 429 …; 500, 503). */
export const ERRORS = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

const isoDate = z.iso.datetime();
const RunError = z.object({ code: z.string(), message: z.string() });

const KindResult = z.looseObject({
  status: z.enum(['succeeded', 'needs_review', 'failed', 'cancelled', 'skipped']),
  created: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  deleted: z.number(),
  durationMs: z.number(),
  error: RunError.optional(),
  held: z
    .looseObject({
      wouldDelete: z.number(),
      stored: z.number(),
      limit: z.number(),
      sample: z.array(z.string()),
    })
    .optional()
    .describe('the sweep delete protection held back (status needs_review)'),
});

export const Run = z
  .looseObject({
    id: z.string(),
    tenantId: z.string(),
    hierarchy: z.string().optional(),
    trigger: z.string().describe('schedule, api, cli, operator or purge'),
    requestedBy: z.string(),
    jobId: z.string(),
    attempt: z.number(),
    status: z.enum(RUN_STATUSES),
    kindsRequested: z.array(z.string()).optional(),
    mode: z
      .enum(['full', 'delta'])
      .optional()
      .describe('delta for a delta run (docs/delta.md); absent: a full pull'),
    queuedAt: isoDate.optional(),
    startedAt: isoDate.optional(),
    endedAt: isoDate.optional(),
    worker: z.string().optional(),
    kinds: z.record(z.string(), KindResult),
    error: RunError.optional(),
    willRetry: z.boolean().optional(),
    enqueueOutcome: z.enum(['created', 'joined-waiting', 'follow-up']).optional(),
    mergedInto: z.string().optional(),
    cancelRequested: z.object({ by: z.string(), at: isoDate }).optional(),
  })
  .meta({ id: 'Run' });

export const Tenant = z
  .looseObject({
    id: z.string(),
    hierarchy: z.string(),
    Tenant: z.looseObject({ name: z.string() }),
  })
  .describe("the tenant's groups and fields (README, Tenants); every stored secret shows as ********")
  .meta({ id: 'Tenant' });

export const TenantBody = z
  .looseObject({ hierarchy: z.string().optional() })
  .describe('the groups of the tenant model and their fields (README, Tenants); checked field by field')
  .meta({ id: 'TenantFields' });

export const Token = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    scope: z.string(),
    createdAt: isoDate,
    createdBy: z.string(),
    revokedAt: isoDate.optional(),
    revokedBy: z.string().optional(),
  })
  .meta({ id: 'Token' });

export const Webhook = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    url: z.string(),
    scope: z.string().describe('a hierarchy place (and everything under it) or *'),
    statuses: z.array(z.enum(WEBHOOK_STATUSES)),
    description: z.string().optional(),
    createdAt: isoDate,
    createdBy: z.string(),
  })
  .meta({ id: 'Webhook' });

export const WebhookBody = z
  .object({
    name: z.string(),
    url: z.string().describe('the receiver: http(s), allowed (m365sync destinations allow webhook …)'),
    scope: z.string().optional().describe("a hierarchy place or *; default the caller's scope"),
    statuses: z
      .array(z.enum(WEBHOOK_STATUSES))
      .optional()
      .describe('the run ends it is told of; default all'),
    description: z.string().optional(),
    secret: z
      .string()
      .optional()
      .describe('the signing secret, 32 to 256 printable characters; default: one is generated'),
  })
  .strict();

export const DeliveryAttempt = z
  .looseObject({
    deliveryId: z.string(),
    subscriptionId: z.string(),
    runId: z.string(),
    event: z.string(),
    attempt: z.number(),
    at: isoDate,
    durationMs: z.number(),
    statusCode: z.number().optional(),
    error: RunError.optional(),
    outcome: z.enum(['delivered', 'retrying', 'failed']),
    response: z.string().optional().describe("the start of the receiver's answer, masked"),
  })
  .meta({ id: 'WebhookDeliveryAttempt' });

/** `kinds`: a kind, a kind list, or several separated by commas; or an array of those. */
export const KindsSpec = z
  .union([z.string(), z.array(z.string())])
  .describe('kinds or kind lists: "licensing", "users,groups" or ["voice", "mailboxes"]');

export const KindList = z.object({
  name: z.string(),
  kinds: z.array(z.string()),
  description: z.string().optional(),
});

const Thresholds = z.record(
  z.string(),
  z.looseObject({ count: z.number().optional(), percent: z.number().optional() }),
);
export const DeleteProtection = z.object({
  global: Thresholds.optional(),
  hierarchy: z.record(z.string(), Thresholds).optional(),
  tenants: z.record(z.string(), Thresholds).optional(),
});

export const DeltaScheduleView = z
  .object({
    enabled: z.boolean().describe('the tenant gets scheduled delta runs'),
    everyMinutes: z.number().int().describe('minutes between delta runs (0: none)'),
    offsetSeconds: z
      .number()
      .int()
      .optional()
      .describe("the tenant's phase: seconds past each multiple of the interval (since the Unix epoch)"),
    source: z.enum(['default', 'override']).describe('SCHEDULE_DELTA_MINUTES, or the tenant’s override'),
    off: z
      .enum(DELTA_OFF_REASONS)
      .optional()
      .describe(
        'why there are no delta runs: M365SYNC_DELTA off, all schedules disabled, the override sets 0, SCHEDULE_DELTA_MINUTES=0, or no Graph client id with a secret or certificate',
      ),
    active: z.boolean().describe('a delta job scheduler exists in Redis for the tenant'),
    next: isoDate.optional().describe('when the next delta run is triggered'),
  })
  .meta({ id: 'DeltaSchedule' });

export const ScheduleView = z
  .object({
    tenantId: z.string(),
    enabled: z.boolean(),
    pattern: z.string().describe('cron pattern, seconds first when it has 6 fields'),
    tz: z.string(),
    kinds: z.array(z.string()).optional(),
    source: z.enum(['default', 'override']),
    active: z.boolean().describe('a job scheduler exists in Redis for the tenant'),
    next: isoDate.optional().describe('when the next scheduled sync fires'),
    delta: DeltaScheduleView,
  })
  .meta({ id: 'Schedule' });

const DELTA_MINUTES = 'must be a whole number of minutes from 0 (no delta runs) to 1440';

export const ScheduleBody = z
  .object({
    pattern: z.string().optional(),
    tz: z.string().optional(),
    enabled: z.boolean().optional().describe('false: no scheduled syncs at all, nightly or delta'),
    kinds: KindsSpec.optional(),
    deltaMinutes: z
      .number({ error: DELTA_MINUTES })
      .int(DELTA_MINUTES)
      .min(0, DELTA_MINUTES)
      .max(1440, DELTA_MINUTES)
      .optional()
      .describe(
        'minutes between scheduled delta runs instead of SCHEDULE_DELTA_MINUTES; 0: no delta runs for this tenant',
      ),
  })
  .strict();

/** One value of a query parameter: given twice it is refused, naming the parameter. */
export const queryString = () => z.string({ error: 'give it once, as one value' });

export const HierarchyQuery = queryString().regex(
  HIERARCHY,
  'must be a hierarchy place such as provider.reseller',
);

export const RefParams = z.object({
  ref: z.string().describe('tenant id, <hierarchy>/<name>, or a name unique within the caller’s scope'),
});
export const IdParams = z.object({ id: z.string().describe('run id') });
export const NameParams = z.object({ name: z.string() });

export const Health = z.object({
  status: z.enum(['ok', 'degraded', 'ready', 'not ready']),
  checks: z.record(z.string(), z.string()),
});
