/**
 * `m365sync queue pause|resume|show`: all syncs at once, for a maintenance window. Paused, workers
 * take no new sync jobs (runs already going finish) and requests, scheduled ones included, wait in
 * the queue (still one per tenant) until it is resumed. BullMQ `pause()`, `resume()`, `isPaused()`.
 */
import { Command } from 'commander';
import type { Queue } from 'bullmq';
import { redisSettings } from '../../queues/connection.js';
import { queueState } from '../../queues/queue-state.js';
import { createSyncQueue } from '../../queues/sync-queue.js';
import { logger } from '../../observability/logger.js';
import { pauseSyncs } from '../../operations/index.js';
import { operatorName, type CliContext } from './context.js';
import { table } from './tenants.js';

export function queueCommand(ctx: CliContext): Command {
  const command = new Command('queue').description('the sync queue as a whole: pause and resume all syncs');
  const change = (paused: boolean) => (queue: Queue) =>
    pauseSyncs({ queue, logger }, { paused, by: operatorName(ctx) });
  const actions: [name: string, description: string, change?: (queue: Queue) => Promise<void>][] = [
    ['show', 'whether syncs are paused, and the sync jobs by state'],
    [
      'pause',
      'workers take no new sync jobs; running syncs finish; requests wait until resumed',
      change(true),
    ],
    ['resume', 'workers take sync jobs again', change(false)],
  ];
  for (const [name, description, change] of actions)
    command
      .command(name)
      .description(description)
      .option('--json', 'print JSON')
      .action(async (options: { json?: boolean }) => {
        const queue = createSyncQueue(redisSettings(ctx.settings), { oneShot: true });
        ctx.onClose(() => queue.close());
        await change?.(queue);
        const state = await queueState(queue, { jobs: true });
        if (options.json) return ctx.io.out(JSON.stringify(state, null, 2));
        ctx.io.out(
          state.paused
            ? 'paused: workers take no new sync jobs (m365sync queue resume)'
            : 'running: workers take sync jobs',
        );
        ctx.io.out(
          table(
            ['STATE', 'JOBS'],
            Object.entries(state.jobs ?? {}).map(([s, n]) => [s, String(n)]),
          ),
        );
      });
  return command;
}
