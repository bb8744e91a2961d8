/** The sync queue as a whole (`GET /queue`, `m365sync queue show`): paused or not, and its jobs by state. */
import type { Queue } from 'bullmq';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export interface QueueState {
  /** Workers take no new sync jobs while true (BullMQ `queue.pause()`). */
  paused: boolean;
  /** Jobs by state (the job counts are of every tenant). */
  jobs?: Record<string, number>;
}

export async function queueState(queue: Queue, options: { jobs: boolean }): Promise<QueueState> {
  const paused = await queue.isPaused();
  return options.jobs ? { paused, jobs: await queue.getJobCounts(...STATES) } : { paused };
}
