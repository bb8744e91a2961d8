/**
 * Operator commands around syncs: enqueue (and watch), list and show runs, test a connection,
 * and the per-tenant schedule.
 */
import { printable } from '../../domain/actor.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Queue } from 'bullmq';
import type { Stores, SyncRunStore } from '../../connectors/mongo/index.js';
import { RUN_STATUSES, type RunStatus, type SyncRun } from '../../domain/sync-run.js';
import { exitForStatus, worstExit } from './exit-codes.js';
import { durationOption, formatDuration, parseDuration } from './duration.js';
import { progressDisplay, type ProgressDisplay } from './progress.js';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { deltaPlan, planKinds, syncPlan } from '../../domain/sync-plan.js';
import type { SyncMode } from '../../domain/delta.js';
import { redactRedisUrl, redisSettings } from '../../queues/connection.js';
import { watchWorkers } from '../../queues/worker-presence.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import {
  approveDeletes,
  cancelRun,
  clearSchedule,
  requestSync,
  requestSyncOfAll,
  setSchedule,
  showSchedule,
  syncKinds,
  testTenantConnection,
  type DeltaScheduleView,
} from '../../operations/index.js';
import { DELTA_OFF_TEXT } from '../../queues/delta-schedules.js';
import {
  createSyncQueue,
  waitForRun,
  WaitTimeoutError,
  type EnqueueResult,
  type JobEnd,
  type SyncJobData,
} from '../../queues/sync-queue.js';
import { createLogger } from '../../observability/logger.js';
import { operatorName, type CliContext } from './context.js';
import { table } from './tenants.js';

function syncQueue(ctx: CliContext): Queue<SyncJobData, unknown, string> {
  const queue = createSyncQueue(redisSettings(ctx.settings), { oneShot: true });
  ctx.onClose(() => queue.close());
  return queue;
}

/**
 * A job with no worker waits in silence: say so at once, and again if the last worker goes away. A
 * job seen active was taken by a worker: that says a worker is back at once, between presence checks.
 */
function sayWhenNoWorker(
  ctx: CliContext,
  queue: Queue<SyncJobData, unknown, string>,
): { stop(): void; jobActive(): void } {
  const redis = redisSettings(ctx.settings);
  let missing = false;
  const back = () => {
    if (!missing) return;
    missing = false;
    ctx.io.err('a sync worker is connected; the sync can start');
  };
  const watch = watchWorkers(queue, (count) => {
    if (count === 0) {
      missing = true;
      ctx.io.err(
        `no sync worker is connected to ${redactRedisUrl(redis.url)} (queue prefix ${redis.prefix}): the sync waits until one is. ` +
          'Start one with `m365sync worker` (with the same REDIS_URL and M365SYNC_QUEUE_PREFIX, and MONGODB_URI, M365SYNC_DB and M365SYNC_ENCRYPTION_KEYS), ' +
          'or start the worker deployment.',
      );
    } else back();
  });
  return { stop: () => watch.stop(), jobActive: back };
}

/** A whole number within bounds, for an option value (commander reports the option and the value). */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

interface Waited {
  tenantId: string;
  jobId: string;
  runId?: string;
  status: string;
  reason?: string;
  /** The wait ended at --timeout with the run still `queued` or `running` (status says which). */
  timedOut?: true;
}

/** Waits for one enqueued sync and returns its outcome (the run record's status when there is one). */
async function outcomeOf(
  queue: Queue<SyncJobData, unknown, string>,
  runs: SyncRunStore,
  tenantId: string,
  enqueued: EnqueueResult,
  timeoutMs: number,
  display?: ProgressDisplay,
  onActive?: () => void,
  mode?: SyncMode,
): Promise<Waited & { run: SyncRun | null }> {
  display?.follow(enqueued.jobId);
  let end: JobEnd;
  try {
    end = await waitForRun(queue, enqueued.jobId, {
      tenantId,
      ...(mode ? { mode } : {}),
      followUp: enqueued.outcome === 'follow-up',
      timeoutMs,
      onState: (state, jobId) => {
        // Active, or already finished between two polls: a worker took the job.
        if (state === 'active' || state === 'completed' || state === 'failed') onActive?.();
        display?.follow(jobId);
        display?.state(state);
      },
    });
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    // The run goes on: say where it is, from its record (the job's state when there is none).
    const run = enqueued.runId ? await runs.get(enqueued.runId) : null;
    const status = run?.status ?? (error.jobState === 'active' ? 'running' : 'queued');
    return {
      tenantId,
      jobId: error.jobId,
      ...(run ? { runId: run.id } : {}),
      status,
      ...(status === 'queued' || status === 'running' ? { timedOut: true as const } : {}),
      run,
    };
  }
  // The job's return value names its run; the run record of this request is the fallback (a job
  // whose result was trimmed from Redis still has its run in MongoDB).
  const runId =
    end.state === 'completed'
      ? ((end.result as { runId?: string } | null)?.runId ?? enqueued.runId)
      : enqueued.runId;
  const run = runId ? await runs.get(runId) : null;
  const status = end.state === 'failed' ? 'failed' : (run?.status ?? 'succeeded');
  return {
    tenantId,
    jobId: end.jobId,
    ...(run ? { runId: run.id } : {}),
    status,
    ...(end.state === 'failed' ? { reason: end.reason } : {}),
    run,
  };
}

export function syncCommand(ctx: CliContext): Command {
  return new Command('sync')
    .description('enqueue a full pull of a tenant (or of every tenant with --all)')
    .argument('[tenant]', 'id, <hierarchy>/<name>, or name')
    .option('--all', 'every tenant (at --hierarchy and below); the plain-cron alternative to schedules')
    .option('--hierarchy <place>', 'with --all: only this place and below')
    .option('--kinds <kinds>', 'limit to kinds or kind lists, e.g. users,licences or licensing')
    .option(
      '--delta',
      'a delta run: only what changed in users and groups (and teams, licences) since the last run (docs/delta.md)',
    )
    .option('--wait', 'wait for the run(s); exit code says how they ended (README: "Exit codes")')
    .addOption(
      new Option(
        '--timeout <duration>',
        'with --wait: stop waiting after this long, e.g. 90s, 15m, 4h (a bare number is minutes); the run goes on, exit code 6',
      )
        .argParser(durationOption(1000, 7 * 86_400_000))
        .default(4 * 3_600_000, '4h'),
    )
    .option('--json', 'print JSON (no progress display)')
    .action(async (ref: string | undefined, options) => {
      if (options.all && ref)
        throw new ValidationError('sync', [{ field: 'tenant', message: 'give a tenant or --all, not both' }]);
      if (!options.all && !ref)
        throw new ValidationError('sync', [{ field: 'tenant', message: 'name a tenant, or give --all' }]);
      if (options.delta && options.kinds)
        throw new ValidationError('sync', [
          {
            field: 'kinds',
            message: '--delta covers users, groups, teams and licences; --kinds cannot be added',
          },
        ]);
      const mode: SyncMode | undefined = options.delta ? 'delta' : undefined;
      const stores = await ctx.stores();
      const { tenants, runs } = stores;
      const queue = syncQueue(ctx);
      // Attempts and backoff are fixed in the job by whoever enqueues it: here, this command's settings.
      const deps = { queue, stores, settings: ctx.settings };
      const kinds = await syncKinds(deps, options.kinds || undefined);
      const timeoutMs = options.timeout as number;
      // One deadline for the whole wait (with --all, the tenants' runs share it).
      const deadline = Date.now() + timeoutMs;
      const remaining = () => Math.max(0, deadline - Date.now());
      if (options.all) {
        const results = await requestSyncOfAll(deps, {
          hierarchy: options.hierarchy,
          trigger: 'cli',
          requestedBy: operatorName(ctx),
          ...(kinds ? { kinds } : {}),
          ...(mode ? { mode } : {}),
        });
        if (!options.wait) {
          if (options.json) return ctx.io.out(JSON.stringify({ enqueued: results }, null, 2));
          ctx.io.out(
            `enqueued ${results.filter((r) => r.outcome === 'created').length} sync(s); ${results.length} tenant(s) in all`,
          );
          for (const r of results) ctx.io.out(`  ${r.tenantId}  job ${r.jobId}  ${r.outcome}`);
          return;
        }
        if (!options.json) ctx.io.err(`enqueued ${results.length} tenant(s); waiting for every run…`);
        // One at a time: the runs go on in parallel on the workers; this only reads their ends.
        const waited: Waited[] = [];
        const workers = sayWhenNoWorker(ctx, queue);
        try {
          for (const r of results) {
            const { run: _run, ...w } = await outcomeOf(
              queue,
              runs,
              r.tenantId,
              r,
              remaining(),
              undefined,
              () => workers.jobActive(),
              mode,
            );
            waited.push(w);
            if (!options.json)
              ctx.io.err(
                w.timedOut ? `${r.tenantId}: ${stillGoing(w, timeoutMs)}` : `${r.tenantId}: ${w.status}`,
              );
          }
        } finally {
          workers.stop();
        }
        const counts: Record<string, number> = {};
        for (const w of waited) counts[w.status] = (counts[w.status] ?? 0) + 1;
        if (options.json) ctx.io.out(JSON.stringify({ summary: counts, runs: waited }, null, 2));
        else {
          ctx.io.out(
            table(
              ['TENANT', 'JOB', 'RUN', 'STATUS'],
              waited.map((w) => [
                w.tenantId,
                w.jobId,
                w.runId ?? '-',
                w.reason ? `${w.status}: ${w.reason}` : w.status,
              ]),
            ),
          );
          ctx.io.out(
            `${waited.length} run(s): ${Object.entries(counts)
              .map(([status, n]) => `${n} ${status}`)
              .join(', ')}`,
          );
        }
        process.exitCode = worstExit(waited.map((w) => exitForStatus(w.status)));
        return;
      }

      const tenant = await tenants.show(ref!);
      const plan = syncPlan(await tenants.getDecrypted(tenant.id), kinds);
      const total = planKinds(mode ? deltaPlan(plan) : plan).length;
      // Listen before enqueueing: the first kinds' events may come at once.
      const display =
        options.wait && !options.json
          ? await progressDisplay(redisSettings(ctx.settings), ctx.io, total)
          : undefined;
      if (display) ctx.onClose(() => display.close());
      const { kinds: _kinds, ...enqueued } = await requestSync(deps, {
        tenant,
        trigger: 'cli',
        requestedBy: operatorName(ctx),
        ...(kinds ? { kinds } : {}),
        ...(mode ? { mode } : {}),
      });
      const what = {
        created: 'enqueued',
        'joined-waiting': 'already waiting: this request joined it',
        'follow-up': 'a run is active: one follow-up run will start when it ends',
      }[enqueued.outcome];
      const name = `${tenant.hierarchy}/${tenant.Tenant.name}`;
      if (!options.wait) {
        ctx.io.out(
          options.json
            ? JSON.stringify({ tenant: name, tenantId: tenant.id, ...enqueued }, null, 2)
            : `${name}: ${what} (job ${enqueued.jobId})`,
        );
        return;
      }
      if (!options.json) ctx.io.out(`${name}: ${what} (job ${enqueued.jobId})`);
      const workers = sayWhenNoWorker(ctx, queue);
      const result = await outcomeOf(
        queue,
        runs,
        tenant.id,
        enqueued,
        remaining(),
        display,
        () => workers.jobActive(),
        mode,
      ).finally(() => workers.stop());
      if (!result.timedOut) display?.finish(Object.keys(result.run?.kinds ?? {}).length);
      process.exitCode = exitForStatus(result.status);
      if (options.json) {
        const { run, ...rest } = result;
        ctx.io.out(
          JSON.stringify(
            {
              tenant: name,
              ...rest,
              ...(rest.timedOut ? { message: stillGoing(rest, timeoutMs) } : {}),
              run,
            },
            null,
            2,
          ),
        );
        return;
      }
      if (result.timedOut) {
        ctx.io.err(stillGoing(result, timeoutMs));
        return;
      }
      if (result.reason) ctx.io.err(`the sync failed: ${result.reason}`);
      if (result.run) ctx.io.out(runSummary(result.run));
    });
}

/** What a wait that reached --timeout says: the run is still waiting to start, or running; it goes on. */
function stillGoing(w: Waited, timeoutMs: number): string {
  const where =
    w.status === 'running' ? 'still running' : 'still waiting to start (queued: no worker has taken it yet)';
  return `stopped waiting after ${formatDuration(timeoutMs)}: the run is ${where}; it goes on${w.runId ? ` (m365sync runs show ${w.runId})` : ` (job ${w.jobId})`}`;
}

export function runSummary(run: SyncRun): string {
  const duration =
    run.endedAt && run.startedAt
      ? `${((run.endedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)} s`
      : '-';
  const rows = Object.entries(run.kinds ?? {}).map(([kind, r]) => [
    kind,
    r.status,
    String(r.created),
    String(r.updated),
    String(r.unchanged),
    String(r.deleted),
    `${(r.durationMs / 1000).toFixed(1)} s`,
    r.error ? `${r.error.code}: ${r.error.message}`.slice(0, 160) : '',
  ]);
  return [
    `run ${run.id}: ${run.status} in ${duration} (trigger ${run.trigger}, by ${printable(run.requestedBy)}, job ${run.jobId})`,
    table(['KIND', 'STATUS', 'CREATED', 'UPDATED', 'UNCHANGED', 'DELETED', 'TIME', 'ERROR'], rows),
    ...Object.entries(run.kinds ?? {})
      .filter(([, r]) => r.held)
      .map(([kind, r]) => {
        const h = r.held!;
        return h.approval
          ? `${kind}: ${h.approval.deleted} held deletions approved by ${printable(h.approval.by)} at ${new Date(h.approval.at).toISOString()}`
          : `${kind}: would delete ${h.wouldDelete} of ${h.stored} (limit ${h.limit}: ${h.threshold}, from ${h.origin}); e.g. ${printable(h.sample.slice(0, 5).join(', '))}\n  approve: m365sync runs approve-deletes ${run.id}`;
      }),
    ...(run.error ? [`error: ${run.error.code}: ${run.error.message}`] : []),
  ].join('\n');
}

export function runsCommand(ctx: CliContext): Command {
  const runs = new Command('runs').description('sync runs (sync_runs)');
  runs
    .command('list')
    .option('--tenant <tenant>', 'only this tenant')
    .addOption(new Option('--status <status>', 'only runs with this status').choices(RUN_STATUSES))
    .option('--limit <n>', 'how many, newest first (1 to 500)', wholeNumber(1, 500), 20)
    .option('--json', 'print JSON')
    .action(async (options) => {
      const { tenants, runs } = await ctx.readStores();
      const tenantId = options.tenant ? (await tenants.show(options.tenant)).id : undefined;
      const list = await runs.list({
        tenantId,
        status: options.status as RunStatus | undefined,
        limit: options.limit,
      });
      if (options.json) return ctx.io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return ctx.io.out('no runs');
      ctx.io.out(
        table(
          ['RUN', 'TENANT', 'MODE', 'STATUS', 'TRIGGER', 'BY', 'STARTED', 'KINDS OK/ALL'],
          list.map((r) => {
            const kinds = Object.values(r.kinds ?? {});
            return [
              r.id,
              r.tenantId,
              r.mode ?? 'full',
              r.status,
              r.trigger,
              r.requestedBy,
              r.startedAt?.toISOString() ?? '-',
              `${kinds.filter((k) => k.status === 'succeeded').length}/${kinds.length}`,
            ];
          }),
        ),
      );
    });
  runs
    .command('approve-deletes')
    .argument('<run>', 'run id of a run that ended needs_review')
    .description('delete what delete protection held back in that run and is still unseen since')
    .option('--json', 'print JSON')
    .action(async (id: string, options) => {
      const { run, deleted } = await approveDeletes(
        { stores: await ctx.readStores() },
        { runId: id, approvedBy: operatorName(ctx) },
      );
      if (options.json)
        return ctx.io.out(JSON.stringify({ run: run.id, status: run.status, deleted }, null, 2));
      for (const [kind, count] of Object.entries(deleted)) ctx.io.out(`deleted ${count} ${kind}`);
      ctx.io.out(`run ${run.id} is now ${run.status}`);
    });
  runs
    .command('cancel')
    .argument('<run>', 'run id of a queued or running run')
    .description(
      'cancel a run: a queued one leaves the queue; a running one stops at its next page, sweeps nothing more',
    )
    .option('--json', 'print JSON')
    .action(async (id: string, options) => {
      const deps = { queue: syncQueue(ctx), stores: await ctx.readStores() };
      const result = await cancelRun(deps, { runId: id, by: operatorName(ctx) });
      if (options.json) return ctx.io.out(JSON.stringify(result, null, 2));
      ctx.io.out(
        result.outcome === 'cancelled'
          ? `run ${id} cancelled before it started`
          : `run ${id}: cancel requested; its worker stops at its next page and records it cancelled (runs show ${id})`,
      );
    });
  runs
    .command('show')
    .argument('<run>', 'run id')
    .option('--json', 'print JSON')
    .action(async (id: string, options) => {
      const run = await (await ctx.readStores()).runs.get(id);
      if (!run) throw new SyncError('NOT_FOUND', `No sync run ${id}; list runs with m365sync runs list.`);
      ctx.io.out(options.json ? JSON.stringify(run, null, 2) : runSummary(run));
    });
  return runs;
}

export function testConnectionCommand(ctx: CliContext): Command {
  return new Command('test-connection')
    .description(
      'check Graph (token and reads), Teams PowerShell and Exchange (when enabled), each on its own',
    )
    .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, options) => {
      const deps = {
        stores: await ctx.stores(),
        settings: ctx.settings,
        logger: createLogger({ level: ctx.settings.LOG_LEVEL ?? 'warn' }),
      };
      // Checked against the allow-list before anything is contacted.
      const results = await testTenantConnection(deps, { tenant: ref });
      if (results.some((r) => !r.ok)) process.exitCode = 1;
      if (options.json) return ctx.io.out(JSON.stringify(results, null, 2));
      for (const r of results)
        ctx.io.out(
          `${r.ok ? 'ok  ' : 'FAIL'}  ${r.check.padEnd(8)}  ${(r.durationMs / 1000).toFixed(1)} s  ${r.detail}`,
        );
    });
}

/** `--delta-every`: a duration in whole minutes, 0 (none) to 24 hours, as minutes. */
function minutesOption(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  if (ms % 60_000 !== 0 || ms > 86_400_000)
    throw new InvalidArgumentError('must be whole minutes from 0 (no delta runs) to 24h.');
  return ms / 60_000;
}

/** The delta schedule of `schedule show`, in one line. */
function deltaLine(delta: DeltaScheduleView): string {
  if (!delta.enabled) return `off: ${delta.off ? DELTA_OFF_TEXT[delta.off] : 'none'}`;
  return `every ${delta.everyMinutes} min (${delta.source}); next ${delta.next?.toISOString() ?? '-'}`;
}

export function scheduleCommand(ctx: CliContext): Command {
  const schedule = new Command('schedule').description(
    "a tenant's scheduled syncs: the nightly full pull and the delta runs (BullMQ job schedulers)",
  );
  const open = async (ref: string) => {
    const stores = await ctx.readStores();
    const tenant = await stores.tenants.show(ref);
    const queue = createTriggerQueue(redisSettings(ctx.settings));
    ctx.onClose(() => queue.close());
    return { tenant, stores, queue };
  };
  const deps = (stores: Stores, triggers: Queue) => ({ stores, triggers, settings: ctx.settings });
  const print = (view: Awaited<ReturnType<typeof showSchedule>>, json: boolean) =>
    ctx.io.out(
      json
        ? JSON.stringify(view, null, 2)
        : [
            `tenant ${view.tenantId}: ${view.enabled ? 'enabled' : 'disabled'} (${view.source})`,
            `  pattern ${view.pattern} (${view.tz})`,
            `  kinds   ${view.kinds?.join(',') ?? 'all'}`,
            `  next    ${view.next?.toISOString() ?? '-'}`,
            `  delta   ${deltaLine(view.delta)}`,
          ].join('\n'),
    );
  schedule
    .command('show')
    .argument('<tenant>')
    .option('--json', 'print JSON')
    .action(async (ref: string, options) => {
      const { tenant, stores, queue } = await open(ref);
      print(await showSchedule(deps(stores, queue), { tenantId: tenant.id }), Boolean(options.json));
    });
  schedule
    .command('set')
    .argument('<tenant>')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 3 * * *" (used as given: no spread)')
    .option('--tz <zone>', 'IANA time zone, e.g. Europe/London')
    .option('--kinds <kinds>', 'kinds or kind lists the scheduled sync pulls')
    .option(
      '--delta-every <interval>',
      'time between delta runs, in whole minutes: 15 (minutes), 15m, 2h, up to 24h; instead of SCHEDULE_DELTA_MINUTES',
      minutesOption,
    )
    .addOption(new Option('--no-delta', 'no scheduled delta runs for this tenant').conflicts('deltaEvery'))
    .option('--disable', 'no scheduled syncs for this tenant, nightly or delta')
    .option('--json', 'print JSON')
    .description(
      "replace the tenant's schedule override (give every setting to keep: what is left out goes back to its default)",
    )
    .action(async (ref: string, options) => {
      const { tenant, stores, queue } = await open(ref);
      const input = {
        enabled: !options.disable,
        ...(options.cron ? { pattern: options.cron } : {}),
        ...(options.tz ? { tz: options.tz } : {}),
        ...(options.kinds ? { kinds: await syncKinds({ stores }, options.kinds) } : {}),
        ...(options.delta === false
          ? { deltaMinutes: 0 }
          : options.deltaEvery !== undefined
            ? { deltaMinutes: options.deltaEvery as number }
            : {}),
      };
      print(
        await setSchedule(deps(stores, queue), {
          tenantId: tenant.id,
          schedule: input,
          updatedBy: operatorName(ctx),
        }),
        Boolean(options.json),
      );
    });
  schedule
    .command('clear')
    .argument('<tenant>')
    .description('back to the default nightly and delta schedules')
    .option('--json', 'print JSON')
    .action(async (ref: string, options) => {
      const { tenant, stores, queue } = await open(ref);
      print(await clearSchedule(deps(stores, queue), { tenantId: tenant.id }), Boolean(options.json));
    });
  return schedule;
}
