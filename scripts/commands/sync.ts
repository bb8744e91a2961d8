/**
 * Operator commands around syncs: enqueue (and watch), list and show runs, test a connection,
 * and the per-tenant schedule.
 */
import { printable } from '../../domain/actor.js';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import type { Queue } from 'bullmq';
import { RUN_STATUSES, SyncRuns, type RunStatus, type SyncRun } from '../../connectors/mongo/sync-runs.js';
import { winRmSettingsFromEnv } from '../../connectors/winrm/index.js';
import { ValidationError } from '../../domain/errors.js';
import { KindLists } from '../../connectors/mongo/kind-lists.js';
import { planKinds, syncPlan } from '../../domain/sync-plan.js';
import { redisSettings } from '../../queues/connection.js';
import { clearSchedule, createTriggerQueue, setSchedule, showSchedule } from '../../queues/schedules.js';
import {
  createSyncQueue,
  enqueueAll,
  enqueueSync,
  waitForRun,
  type SyncJobData,
  type SyncProgress,
} from '../../queues/sync-queue.js';
import { createLogger } from '../../observability/logger.js';
import { testConnection } from '../../workers/test-connection.js';
import { approveDeletes } from '../../workers/tenant-maintenance.js';
import { operatorName, type CliContext } from './context.js';
import { table } from './tenants.js';

function syncQueue(ctx: CliContext): Queue<SyncJobData, unknown, string> {
  const queue = createSyncQueue(redisSettings(ctx.env), { oneShot: true });
  ctx.onClose(() => queue.close());
  return queue;
}

export function syncCommand(ctx: CliContext): Command {
  return new Command('sync')
    .description('enqueue a full pull of a tenant (or of every tenant with --all)')
    .argument('[tenant]', 'id, <hierarchy>/<name>, or name')
    .option('--all', 'every tenant (at --hierarchy and below); the plain-cron alternative to schedules')
    .option('--hierarchy <place>', 'with --all: only this place and below')
    .option('--kinds <kinds>', 'limit to kinds or kind lists, e.g. users,licences or licensing')
    .option('--wait', 'show live progress and end with the run summary')
    .option('--timeout <minutes>', 'with --wait: stop waiting after this long (the run goes on)', Number, 240)
    .action(async (ref: string | undefined, options) => {
      const { tenants, db } = await ctx.stores();
      const kinds = options.kinds ? await new KindLists(db).resolve(options.kinds) : undefined;
      const runs = new SyncRuns(db);
      const queue = syncQueue(ctx);
      if (options.all) {
        if (ref)
          throw new ValidationError('sync', [
            { field: 'tenant', message: 'give a tenant or --all, not both' },
          ]);
        const results = await enqueueAll(
          queue,
          db,
          {
            hierarchy: options.hierarchy,
            trigger: 'cli',
            requestedBy: operatorName(ctx),
            ...(kinds ? { kinds } : {}),
          },
          { runs },
        );
        ctx.io.out(
          `enqueued ${results.filter((r) => r.outcome === 'created').length} sync(s); ${results.length} tenant(s) in all`,
        );
        for (const r of results) ctx.io.out(`  ${r.tenantId}  job ${r.jobId}  ${r.outcome}`);
        return;
      }
      if (!ref)
        throw new ValidationError('sync', [{ field: 'tenant', message: 'name a tenant, or give --all' }]);
      const tenant = await tenants.getDecrypted(ref);
      const total = planKinds(syncPlan(tenant, kinds)).length;
      const enqueued = await enqueueSync(
        queue,
        { tenantId: tenant.id, trigger: 'cli', requestedBy: operatorName(ctx), ...(kinds ? { kinds } : {}) },
        { runs, hierarchy: tenant.hierarchy },
      );
      const what = {
        created: 'enqueued',
        'joined-waiting': 'already waiting: this request joined it',
        'follow-up': 'a run is active: one follow-up run will start when it ends',
      }[enqueued.outcome];
      ctx.io.out(`${tenant.hierarchy}/${tenant.Tenant.name}: ${what} (job ${enqueued.jobId})`);
      if (!options.wait) return;

      const bar = new SingleBar({
        format: ' {bar} {value}/{total} kinds | {kind}: {objects} objects | {state}',
        hideCursor: true,
        stream: process.stderr,
        noTTYOutput: false,
      });
      bar.start(total, 0, { kind: '-', objects: 0, state: 'waiting' });
      const done = new Set<string>();
      try {
        const end = await waitForRun(queue, enqueued.jobId, {
          tenantId: tenant.id,
          followUp: enqueued.outcome === 'follow-up',
          timeoutMs: options.timeout * 60_000,
          onState: (state) => bar.update({ state }),
          onProgress: (progress) => {
            const p = progress as SyncProgress | null;
            if (!p || typeof p !== 'object' || !p.kind) return;
            if (p.phase === 'kind-done' || p.phase === 'kind-failed') done.add(p.kind);
            bar.update(done.size, { kind: p.kind, objects: p.objects });
          },
        });
        bar.stop();
        if (end.state === 'failed') {
          ctx.io.err(`the sync failed: ${end.reason}`);
          process.exitCode = 1;
          return;
        }
        // The job's return value names its run; the run record of this request is the fallback
        // (a job whose result was trimmed from Redis still has its run in MongoDB).
        const runId = (end.result as { runId?: string } | null)?.runId ?? enqueued.runId;
        const run = runId ? await runs.get(runId) : null;
        if (run) ctx.io.out(runSummary(run));
        if (run && run.status !== 'succeeded') process.exitCode = 1;
      } finally {
        bar.stop();
      }
    });
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
    .option('--status <status>', RUN_STATUSES.join(', '))
    .option('--limit <n>', 'how many, newest first', Number, 20)
    .option('--json', 'print JSON')
    .action(async (options) => {
      const { db, tenants } = await ctx.stores();
      const tenantId = options.tenant ? (await tenants.show(options.tenant)).id : undefined;
      const list = await new SyncRuns(db).list({
        tenantId,
        status: options.status as RunStatus | undefined,
        limit: options.limit,
      });
      if (options.json) return ctx.io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return ctx.io.out('no runs');
      ctx.io.out(
        table(
          ['RUN', 'TENANT', 'STATUS', 'TRIGGER', 'BY', 'STARTED', 'KINDS OK/ALL'],
          list.map((r) => {
            const kinds = Object.values(r.kinds ?? {});
            return [
              r.id,
              r.tenantId,
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
    .action(async (id: string) => {
      const { db } = await ctx.stores();
      const { run, deleted } = await approveDeletes(db, id, operatorName(ctx));
      for (const [kind, count] of Object.entries(deleted)) ctx.io.out(`deleted ${count} ${kind}`);
      ctx.io.out(`run ${run.id} is now ${run.status}`);
    });
  runs
    .command('show')
    .argument('<run>', 'run id')
    .option('--json', 'print JSON')
    .action(async (id: string, options) => {
      const { db } = await ctx.stores();
      const run = await new SyncRuns(db).get(id);
      if (!run) throw new ValidationError('runs show', [{ field: 'run', message: `no run ${id}` }]);
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
    .action(async (ref: string) => {
      const { tenants, certificates } = await ctx.stores();
      const tenant = await tenants.getDecrypted(ref);
      const caFile = ctx.env.M365SYNC_GRAPH_CA_FILE;
      const results = await testConnection({
        tenant,
        certificates,
        graph: { ca: caFile ? readFileSync(caFile, 'utf8') : undefined },
        winrm: winRmSettingsFromEnv(ctx.env),
        logger: createLogger({ level: ctx.env.LOG_LEVEL ?? 'warn' }),
      });
      for (const r of results)
        ctx.io.out(
          `${r.ok ? 'ok  ' : 'FAIL'}  ${r.check.padEnd(8)}  ${(r.durationMs / 1000).toFixed(1)} s  ${r.detail}`,
        );
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}

export function scheduleCommand(ctx: CliContext): Command {
  const schedule = new Command('schedule').description("a tenant's nightly refresh (BullMQ job scheduler)");
  const open = async (ref: string) => {
    const { tenants, db } = await ctx.stores();
    const tenant = await tenants.show(ref);
    const queue = createTriggerQueue(redisSettings(ctx.env));
    ctx.onClose(() => queue.close());
    return { tenant, db, queue };
  };
  const print = (view: Awaited<ReturnType<typeof showSchedule>>) =>
    ctx.io.out(
      [
        `tenant ${view.tenantId}: ${view.enabled ? 'enabled' : 'disabled'} (${view.source})`,
        `  pattern ${view.pattern} (${view.tz})`,
        `  kinds   ${view.kinds?.join(',') ?? 'all'}`,
        `  next    ${view.next?.toISOString() ?? '-'}`,
      ].join('\n'),
    );
  schedule
    .command('show')
    .argument('<tenant>')
    .action(async (ref: string) => {
      const { tenant, db, queue } = await open(ref);
      print(await showSchedule(queue, db, tenant.id));
    });
  schedule
    .command('set')
    .argument('<tenant>')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 3 * * *" (used as given: no spread)')
    .option('--tz <zone>', 'IANA time zone, e.g. Europe/London')
    .option('--kinds <kinds>', 'kinds or kind lists the scheduled sync pulls')
    .option('--disable', 'no scheduled syncs for this tenant')
    .action(async (ref: string, options) => {
      const { tenant, db, queue } = await open(ref);
      const input = {
        enabled: !options.disable,
        ...(options.cron ? { pattern: options.cron } : {}),
        ...(options.tz ? { tz: options.tz } : {}),
        ...(options.kinds ? { kinds: await new KindLists(db).resolve(options.kinds) } : {}),
      };
      print(await setSchedule(queue, db, tenant.id, input, { updatedBy: operatorName(ctx) }));
    });
  schedule
    .command('clear')
    .argument('<tenant>')
    .description('back to the default nightly schedule')
    .action(async (ref: string) => {
      const { tenant, db, queue } = await open(ref);
      print(await clearSchedule(queue, db, tenant.id));
    });
  return schedule;
}
