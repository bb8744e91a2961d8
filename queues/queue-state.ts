/** The sync queue as a whole (`GET /queue`, `m365sync queue show`): paused or not, and its jobs by state. */
import type { Queue } from 'bullmq';

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

export interface QueueState {
  /** Workers take no new sync jobs while true (BullMQ `queue.pause()`). */
  paused: boolean;
  /** Jobs by state (the job counts are of every tenant). */
  jobs?: Record<string, number>;
}

export async function queueState(queue: Queue, options: { jobs: boolean }): Promise<QueueState> {
  const paused = await queue.isPaused();
  if (!options.jobs) return { paused };
  // `waiting` is every job waiting for a worker: BullMQ keeps jobs with a priority (every sync job,
  // queues/sync-queue.ts SYNC_PRIORITY) in a set of their own, which an operator need not tell apart.
  const { prioritized = 0, ...counts } = await queue.getJobCounts(...STATES, 'prioritized');
  return { paused, jobs: { ...counts, waiting: (counts.waiting ?? 0) + prioritized } };
}
