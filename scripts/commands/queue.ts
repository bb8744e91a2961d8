/**
 * `m365sync queue pause|resume|show`: all syncs at once, for a maintenance window. Paused, workers
 * take no new sync jobs (runs already going finish) and requests, scheduled ones included, wait in
 * the queue (still one per tenant) until it is resumed. BullMQ `pause()`, `resume()`, `isPaused()`.
 */
import { Command } from 'commander';
import { redisSettings } from '../../queues/connection.js';
import { createSyncQueue } from '../../queues/sync-queue.js';
import type { CliContext } from './context.js';
import { table } from './tenants.js';

const COUNTED = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export function queueCommand(ctx: CliContext): Command {
  const queue = new Command('queue').description('the sync queue as a whole: pause and resume all syncs');
  const open = () => {
    const q = createSyncQueue(redisSettings(ctx.env), { oneShot: true });
    ctx.onClose(() => q.close());
    return q;
  };
  const show = async (q: ReturnType<typeof open>, json: boolean) => {
    const state = { paused: await q.isPaused(), jobs: await q.getJobCounts(...COUNTED) };
    if (json) return ctx.io.out(JSON.stringify(state, null, 2));
    ctx.io.out(
      state.paused
        ? 'paused: workers take no new sync jobs (m365sync queue resume)'
        : 'running: workers take sync jobs',
    );
    ctx.io.out(
      table(
        ['STATE', 'JOBS'],
        Object.entries(state.jobs).map(([s, n]) => [s, String(n)]),
      ),
    );
  };
  queue
    .command('show')
    .description('whether syncs are paused, and the sync jobs by state')
    .option('--json', 'print JSON')
    .action(async (options) => show(open(), Boolean(options.json)));
  queue
    .command('pause')
    .description('workers take no new sync jobs; running syncs finish; requests wait until resumed')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const q = open();
      await q.pause();
      await show(q, Boolean(options.json));
    });
  queue
    .command('resume')
    .description('workers take sync jobs again')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const q = open();
      await q.resume();
      await show(q, Boolean(options.json));
    });
  return queue;
}
