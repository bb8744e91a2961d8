/**
 * The "tenant-sync" queue: one job = one full pull of one tenant.
 *
 * Job data is exactly `{ tenantId, trigger, requestedBy, kinds?, runId }`, checked with zod on the way
 * in and on the way out; it never holds a secret (the worker loads and decrypts the tenant itself).
 * `runId` is the id of the request's `sync_runs` record, chosen here (prepareSync) and written before
 * the add by operations/request-sync.ts (this BullMQ adapter writes nothing to MongoDB); it is
 * also the job id, so job ids never repeat (not even after Redis lost its data and its id counter).
 *
 * Per-tenant de-duplication: every job carries `deduplication: { id: tenantId, keepLastIfActive: true }`.
 * While a tenant's job waits, further enqueues are dropped (the waiting one will see the latest state
 * anyway); while it runs, the newest request is kept and enqueued by BullMQ when the run ends. So at
 * most one run is active and one waits per tenant: twenty clicks during a nightly run give one follow-up.
 * The MongoDB lease (connectors/mongo/leases.ts) backs this up if two jobs for a tenant ever meet.
 *
 * Order: requests of a person or a program (operator, api, cli) run before scheduled syncs that are
 * still waiting, by BullMQ priority (SYNC_PRIORITY); each band is first come, first served. A request
 * that joins a tenant's waiting scheduled job raises that job to its own band, so "sync this tenant
 * now" never waits behind the nightly batch because the batch already held the tenant's slot.
 */
import type { Queue } from 'bullmq';
import { type Job, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { SyncError, ValidationError } from '../domain/errors.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import { SYNC_MODES, type SyncMode } from '../domain/delta.js';
import { ObjectId } from 'mongodb';
import { ActorName } from '../domain/actor.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { producerQueue, type ProducerOptions, type RedisSettings } from './connection.js';

export const SYNC_QUEUE = 'tenant-sync';
export const SYNC_JOB = 'full-pull';
export const TRIGGERS = ['schedule', 'operator', 'api', 'cli'] as const;

export const SyncJobData = z
  .object({
    // A tenant id is the hex of its MongoDB ObjectId; BullMQ ids must not contain ':'.
    tenantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a tenant id (letters, digits, _ or -)'),
    trigger: z.enum(TRIGGERS),
    requestedBy: ActorName,
    kinds: z
      .array(z.enum(ENTITY_KIND_NAMES as [string, ...string[]]))
      .min(1)
      .optional(),
    // A delta run (docs/delta.md) or a full pull (left out: full).
    mode: z.enum(SYNC_MODES).optional(),
    // The request's run record (and job id). Optional only for jobs added before it existed.
    runId: z
      .string()
      .regex(/^[0-9a-f]{24}$/, 'must be a run id (24 hex digits)')
      .optional(),
  })
  .strict();
export type SyncJobData = z.infer<typeof SyncJobData>;

/** What a caller asks for; prepareSync adds the run id. */
export const SyncRequest = SyncJobData.omit({ runId: true });
export type SyncRequest = z.infer<typeof SyncRequest>;

/**
 * A new run id: an ObjectId, which is also the BullMQ job id. BullMQ refuses custom ids that read as
 * integers, so an id made only of decimal digits (about once in 80,000) is drawn again.
 */
export function newRunId(): string {
  for (;;) {
    const id = new ObjectId().toHexString();
    if (/[a-f]/.test(id)) return id;
  }
}

/** Progress a running sync reports with `job.updateProgress`. */
export interface SyncProgress {
  /** The kind that just wrote a page, or completed. */
  kind: string;
  /** Objects of that kind written so far in this run. */
  objects: number;
  /** Kinds finished so far, of how many. */
  kindsDone?: number;
  kindsTotal?: number;
  phase?: 'page' | 'kind-done' | 'kind-failed';
}

export interface SyncQueueSettings {
  attempts: number;
  backoffDelayMs: number;
  /** Finished jobs kept for the dashboard; run history lives in `sync_runs`. */
  keepCompleted: { age: number; count: number };
  keepFailed: { age: number; count: number };
}

/**
 * Attempts and backoff are job options: the process that enqueues a sync reads them and fixes them in
 * the job (the CLI for `m365sync sync`, the API process, the worker process for scheduled syncs, which
 * its trigger worker enqueues), from its settings (SYNC_ATTEMPTS, SYNC_BACKOFF_MS, SYNC_KEEP_*_JOBS;
 * checked when the process parses them). Finished jobs beyond the counts are trimmed as jobs finish.
 */
export function syncQueueSettings(
  e: Pick<
    Settings,
    'SYNC_ATTEMPTS' | 'SYNC_BACKOFF_MS' | 'SYNC_KEEP_COMPLETED_JOBS' | 'SYNC_KEEP_FAILED_JOBS'
  >,
): SyncQueueSettings {
  return {
    attempts: e.SYNC_ATTEMPTS,
    backoffDelayMs: e.SYNC_BACKOFF_MS,
    keepCompleted: { age: 7 * 24 * 3600, count: e.SYNC_KEEP_COMPLETED_JOBS },
    keepFailed: { age: 30 * 24 * 3600, count: e.SYNC_KEEP_FAILED_JOBS },
  };
}

/** The defaults (tests and tools); a process passes the settings it parsed. */
export const DEFAULT_QUEUE_SETTINGS: SyncQueueSettings = syncQueueSettings(DEFAULT_SETTINGS);

/**
 * BullMQ priorities of the sync queue: the lower number starts first. None is 0, because BullMQ takes
 * jobs without a priority (its plain wait list) before every prioritized one.
 *
 * Why strict priority cannot starve the schedule: a requested sync jumps only the syncs still waiting,
 * never a running one, and the per-tenant de-duplication keeps at most one waiting job per tenant, so
 * at any moment at most one requested sync per tenant is ahead of the schedule. Requests are a trickle
 * (a person, a script, a webhook of the API), each a bounded pull; the schedule waits only while
 * requests for distinct tenants keep arriving faster than the whole fleet of workers finishes them,
 * and a fleet in that state is too small for its schedule anyway (the oldest-waiting gauge and its
 * alert M365SyncSyncWaitingTooLong say so).
 */
export const SYNC_PRIORITY = { requested: 1, schedule: 10 } as const;

/** The priority of a sync of this trigger: scheduled syncs after every requested one. */
export function syncPriority(trigger: SyncJobData['trigger']): number {
  return trigger === 'schedule' ? SYNC_PRIORITY.schedule : SYNC_PRIORITY.requested;
}

export function jobOptions(data: SyncJobData, settings: SyncQueueSettings): JobsOptions {
  return {
    // Kept by a retry, a lease-busy delay and a follow-up (BullMQ stores the options with the job).
    priority: syncPriority(data.trigger),
    deduplication: { id: dedupId(data.tenantId, data.mode), keepLastIfActive: true },
    attempts: settings.attempts,
    // 1, 2, 4 … × delay, each spread by up to half of itself so retries of many tenants do not align.
    backoff: { type: 'exponential', delay: settings.backoffDelayMs, jitter: 0.5 },
    removeOnComplete: settings.keepCompleted,
    removeOnFail: settings.keepFailed,
  };
}

/**
 * The de-duplication id of a tenant's requests: full pulls and delta runs de-duplicate apart, so a full
 * pull asked for while a delta run waits is not swallowed by it (the tenant's lease still keeps the
 * two from running at once). ('.' is never in a tenant id.)
 */
export function dedupId(tenantId: string, mode: SyncMode | undefined): string {
  return mode === 'delta' ? `${tenantId}.delta` : tenantId;
}

export function createSyncQueue(
  redis: RedisSettings,
  options: ProducerOptions = {},
): Queue<SyncJobData, unknown, string> {
  return producerQueue<SyncJobData>(SYNC_QUEUE, redis, options);
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(
      'Sync request',
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(request)', message: i.message })),
    );
  }
  return parsed.data;
}

export type EnqueueOutcome =
  /** A new job was added: nothing of this tenant was waiting or running. */
  | 'created'
  /** A job of the tenant was already waiting; it will do the work. */
  | 'joined-waiting'
  /** A job of the tenant is running; BullMQ runs one follow-up (with the latest request) when it ends. */
  | 'follow-up';

export interface EnqueueResult {
  /**
   * The job that does the work: the new job (created), the waiting job joined, or the running job
   * the follow-up comes after.
   */
  jobId: string;
  outcome: EnqueueOutcome;
  /**
   * This request's id: its job id when it made a job (created, follow-up), and the id of its
   * `sync_runs` record when it was recorded (operations/request-sync.ts enqueueRecorded).
   */
  runId: string;
}

/**
 * A request checked and given its run id, ready to add: the job data. A delta request is refused
 * here while a full pull of the tenant runs or waits.
 */
export async function prepareSync(
  queue: Queue<SyncJobData, unknown, string>,
  input: SyncRequest,
): Promise<SyncJobData & { runId: string }> {
  const request = parseWith(SyncRequest.strict(), input);
  if (request.mode === 'delta') await refuseDeltaBesideFullPull(queue, request);
  return { ...request, runId: newRunId() };
}

/**
 * Adds a prepared request's job, de-duplicated per tenant, under its run id: the one add of the CLI,
 * the API and the scheduler's triggers (through operations/request-sync.ts, which records the request
 * around it).
 *
 * The outcome is exact, not guessed: BullMQ's add returns our id only when it created our job, and a
 * request stored as the follow-up of an active job sits in the de-duplication's "next" hash under our
 * id (or, once the active job ended, is a job with our id).
 */
export async function addSyncJob(
  queue: Queue<SyncJobData, unknown, string>,
  data: SyncJobData & { runId: string },
  settings: SyncQueueSettings = DEFAULT_QUEUE_SETTINGS,
): Promise<EnqueueResult> {
  const { runId } = data;
  const priority = await bandOf(queue, data);
  const job = await queue.add(SYNC_JOB, data, { ...jobOptions(data, settings), priority, jobId: runId });
  const jobId = String(job.id);
  let outcome: EnqueueOutcome;
  if (jobId === runId) outcome = 'created';
  else if (await isFollowUp(queue, dedupId(data.tenantId, data.mode), runId)) outcome = 'follow-up';
  else outcome = 'joined-waiting';
  if (outcome === 'joined-waiting') await raisePriority(queue, jobId, syncPriority(data.trigger));
  return { jobId, outcome, runId };
}

/**
 * The priority of a request's add: its trigger's, except that a scheduled request replacing a kept
 * requested follow-up (BullMQ keeps the last request) keeps the follow-up's band, so the work a person
 * asked for is not demoted behind the nightly batch. Best effort: read just before the add.
 */
async function bandOf(queue: Queue<SyncJobData, unknown, string>, data: SyncJobData): Promise<number> {
  const own = syncPriority(data.trigger);
  if (own === SYNC_PRIORITY.requested) return own;
  const client = await queue.backend.client;
  const opts = await client
    .hget(followUpKey(queue, dedupId(data.tenantId, data.mode)), 'opts')
    .catch(ignoreBecause("the kept follow-up's band is read best effort; without it, the request's own"));
  const kept = opts ? Number((JSON.parse(opts) as { priority?: unknown }).priority) : NaN;
  return kept > 0 && kept < own ? kept : own;
}

/** Why a failed priority raise may be ignored. */
const RAISE_IS_BEST_EFFORT = 'raising the priority is best effort: the request stands joined either way';

/**
 * Raises a waiting job to `priority` when that is higher (a lower number) than its own: a request
 * that joined a waiting scheduled job must not wait in the schedule's band. Best effort: the job may
 * have started or ended meanwhile (BullMQ then only notes the priority on it, or finds no job), and
 * the request stands joined either way.
 */
async function raisePriority(queue: Queue<SyncJobData, unknown, string>, jobId: string, priority: number) {
  const job = await queue.getJob(jobId).catch(ignoreBecause(RAISE_IS_BEST_EFFORT));
  // `job.priority` is the job's current one (a raise before this one may have changed it); a job
  // without one (0, added before priorities) already runs before every prioritized job.
  const current = Number(job?.priority) || 0;
  if (!job || current === 0 || current <= priority) return;
  await job.changePriority({ priority }).catch(ignoreBecause(RAISE_IS_BEST_EFFORT));
}

/**
 * How long the mark that a request's add returned is kept: the run reaper reads it only while the
 * record is younger than SYNC_ENQUEUE_GRACE_MS (a minute by default); past that it judges the record
 * anyway.
 */
const ENQUEUED_MARK_MS = 3600_000;

/** The Redis key that says the add of request `runId` returned, with its outcome. */
export function enqueuedKey(queue: Queue, runId: string): string {
  return queue.toKey(`enqueued:${runId}`);
}

/**
 * Marks that the add of a created or follow-up request returned, so the reaper may judge its record
 * before the grace time (a follow-up that a later request replaced ends merged at once). Best effort:
 * without the mark the reaper waits the grace time, and the request stands as enqueued.
 */
export async function markEnqueued(queue: Queue, runId: string, outcome: EnqueueOutcome): Promise<void> {
  const client = await queue.backend.client;
  await client
    .set(enqueuedKey(queue, runId), outcome, { PX: ENQUEUED_MARK_MS })
    .catch(ignoreBecause('without the mark the run reaper waits the grace time, and the request stands'));
}

/** The Redis key of the follow-up BullMQ keeps for an active job (`keepLastIfActive`), by de-duplication id. */
export function followUpKey(queue: Queue, dedup: string): string {
  return queue.toKey(`dn:${dedup}`);
}

/**
 * A delta run is refused while a full pull of the tenant runs or waits: the full pull lands everything
 * a delta round would, and more. (Best effort: the tenant's lease keeps the two apart regardless.)
 */
async function refuseDeltaBesideFullPull(queue: Queue<SyncJobData, unknown, string>, request: SyncRequest) {
  if (request.kinds)
    throw new ValidationError('Sync request', [
      {
        field: 'kinds',
        message: 'a delta run covers users, groups, teams and licences; kinds cannot be chosen',
      },
    ]);
  const full = await queue.getDeduplicationJobId(request.tenantId);
  if (!full) return;
  const state = await queue.getJobState(full);
  if (state === 'completed' || state === 'failed' || state === 'unknown') return;
  throw new SyncError(
    'CONFLICT',
    `A full pull of tenant ${request.tenantId} is ${state === 'active' ? 'running' : 'waiting to run'} (run ${full}); ` +
      'it lands everything a delta run would, so no delta run was queued.',
  );
}

/**
 * Whether the request `runId` is the tenant's follow-up: still kept by BullMQ for when the active job
 * ends, or already a job. Read in that order: the follow-up turns into a job atomically, so one of
 * the two reads sees it.
 */
export async function isFollowUp(queue: Queue, dedup: string, runId: string): Promise<boolean> {
  const client = await queue.backend.client;
  if ((await client.hget(followUpKey(queue, dedup), 'jid')) === runId) return true;
  return (await queue.getJobState(runId)) !== 'unknown';
}

/**
 * `waitForRun` reached its timeout before the job ended: the job goes on. `jobState` is its BullMQ
 * state at the last poll (waiting, delayed, prioritized: not started; active: running).
 */
export class WaitTimeoutError extends Error {
  constructor(
    readonly jobId: string,
    readonly jobState: string,
  ) {
    super(`Job ${jobId} did not finish in time (${jobState || 'state unknown'}); it keeps running.`);
    this.name = 'WaitTimeoutError';
  }
}

export type JobEnd =
  { state: 'completed'; jobId: string; result: unknown } | { state: 'failed'; jobId: string; reason: string };

/**
 * Waits until a job ends (for `m365sync sync --wait`), polling its state and progress; `onProgress`
 * gets each new progress object. With `followUp`, waits for the run BullMQ starts after the given
 * (running) job. Bounded by `timeoutMs` and `signal`.
 *
 * Each poll reads the state first and the job after it. BullMQ moves a job to its finished set and
 * writes its return value (or failed reason) in one Lua script, so a job read after a terminal state
 * was seen always carries its outcome. (The other order raced: a snapshot taken while the job ran,
 * then a state read after it finished, gave `completed` with a null return value.)
 */
export async function waitForRun(
  queue: Queue<SyncJobData, unknown, string>,
  jobId: string,
  options: {
    tenantId?: string;
    /** The mode of the request waited for: its follow-up is found by its de-duplication id. */
    mode?: SyncMode;
    followUp?: boolean;
    onProgress?: (progress: unknown, jobId: string) => void;
    onState?: (state: string, jobId: string) => void;
    pollMs?: number;
    timeoutMs?: number;
    signal?: AbortSignal;
  } = {},
): Promise<JobEnd> {
  const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
  const pollMs = options.pollMs ?? 500;
  let current = jobId;
  let followUp = options.followUp === true;
  let lastProgress = '';
  let lastState = '';
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('Waiting was cancelled');
    const state = await queue.getJobState(current);
    const job = await queue.getJob(current);
    if (state === 'unknown' || !job) {
      throw new Error(`Job ${current} no longer exists (removed, or finished long ago).`);
    }
    if (state !== lastState) {
      lastState = state;
      options.onState?.(state, current);
    }
    const progress = JSON.stringify(job.progress ?? null);
    if (progress !== lastProgress) {
      lastProgress = progress;
      options.onProgress?.(job.progress, current);
    }
    if (state === 'completed' || state === 'failed') {
      if (followUp && options.tenantId) {
        // The follow-up is added when the previous job ends; its id is the tenant's de-duplication id.
        const next = await queue.getDeduplicationJobId(dedupId(options.tenantId, options.mode));
        if (next && next !== current) {
          current = next;
          followUp = false;
          lastProgress = '';
          continue;
        }
      }
      return state === 'completed'
        ? { state, jobId: current, result: job.returnvalue }
        : { state, jobId: current, reason: job.failedReason };
    }
    // After a poll, so the timeout says where the job is now.
    if (Date.now() >= deadline) throw new WaitTimeoutError(current, state);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * When the sync that has waited longest for a worker was requested (its job's timestamp), or
 * undefined when none waits. BullMQ keeps prioritized jobs in one sorted set ordered by priority, then
 * arrival, so its first job is the newest requested sync whenever requested syncs wait behind older
 * scheduled ones: the head of each priority band is read instead, and the head of the plain wait list
 * (jobs without a priority, enqueued before priorities existed).
 */
export async function oldestWaitingSince(queue: Queue): Promise<number | undefined> {
  // The set is ordered by priority, so each band's head sits after the jobs of the higher bands.
  // (Every sync job carries one of SYNC_PRIORITY; a job moving between the two reads only shifts
  // which of a band's first jobs is read.)
  const priorities = [...new Set(Object.values(SYNC_PRIORITY))].sort((a, b) => a - b);
  const counts = await queue.getCountsPerPriority(priorities);
  const heads: Promise<Job[]>[] = [queue.getJobs(['wait'], 0, 0, true)];
  let offset = 0;
  for (const priority of priorities) {
    const count = counts[String(priority)] ?? 0;
    if (count > 0) heads.push(queue.getJobs(['prioritized'], offset, offset, true));
    offset += count;
  }
  const jobs = (await Promise.all(heads)).flat().filter((job): job is Job => job !== undefined);
  return jobs.length > 0 ? Math.min(...jobs.map((job) => job.timestamp)) : undefined;
}
