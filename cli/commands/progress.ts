/**
 * The live display of `m365sync sync --wait`. It follows the job's events (BullMQ QueueEvents, which
 * delivers every progress update through a Redis stream, where polling missed the fast kinds), and
 * ends on the run record's own count, so it never shows 9/16 for a run whose 16 kinds finished.
 * A progress bar on a terminal; plain lines (one per kind finished and per state change) otherwise.
 */
import { QueueEvents } from 'bullmq';
import { SingleBar } from 'cli-progress';
import { workerConnection, type RedisSettings } from '../../queues/connection.js';
import { SYNC_QUEUE, type SyncProgress } from '../../queues/sync-queue.js';
import type { CliIo } from './context.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';

export interface ProgressDisplay {
  /** Which job to follow (the follow-up job, once the one it waited for ended). */
  follow(jobId: string): void;
  state(state: string): void;
  /** Ends the display with the kinds the run record says finished, of how many. */
  finish(kindsFinished: number): void;
  close(): Promise<void>;
}

export async function progressDisplay(
  redis: RedisSettings,
  io: CliIo,
  total: number,
  options: { tty?: boolean } = {},
): Promise<ProgressDisplay> {
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const events = new QueueEvents(SYNC_QUEUE, { connection: workerConnection(redis), prefix: redis.prefix });
  events.on('error', ignoreBecause('QueueEvents reconnects by itself; the wait itself reports a lost Redis'));
  await events.waitUntilReady();
  const done = new Set<string>();
  let following: string | undefined;
  let lastState = '';
  const bar = tty
    ? new SingleBar({
        format: ' {bar} {value}/{total} kinds | {kind}: {objects} objects | {state}',
        hideCursor: true,
        stream: process.stderr,
      })
    : undefined;
  bar?.start(total, 0, { kind: '-', objects: 0, state: 'waiting' });
  events.on('progress', ({ jobId, data }) => {
    if (jobId !== following) return;
    const p = data as SyncProgress | null;
    if (!p || typeof p !== 'object' || !p.kind) return;
    const finished = p.phase === 'kind-done' || p.phase === 'kind-failed';
    if (finished && !done.has(p.kind)) {
      done.add(p.kind);
      if (!tty)
        io.err(
          `${p.kind}: ${p.phase === 'kind-done' ? 'done' : 'failed'}, ${p.objects} objects (${done.size}/${total} kinds)`,
        );
    }
    bar?.update(done.size, { kind: p.kind, objects: p.objects });
  });
  return {
    follow(jobId) {
      if (jobId !== following) done.clear();
      following = jobId;
    },
    state(state) {
      if (state === lastState) return;
      lastState = state;
      if (bar) bar.update({ state });
      else io.err(`job ${following}: ${state}`);
    },
    finish(kindsFinished) {
      if (bar) {
        bar.setTotal(Math.max(total, kindsFinished));
        bar.update(kindsFinished);
        bar.stop();
      } else io.err(`${kindsFinished}/${Math.max(total, kindsFinished)} kinds finished`);
    },
    async close() {
      bar?.stop();
      await events.close();
    },
  };
}
