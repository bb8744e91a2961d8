/**
 * Whether any sync worker is connected to the "tenant-sync" queue, for `m365sync sync --wait`: a job
 * with no worker waits in silence, so the CLI says at once that none is connected and how to start one,
 * and keeps checking while it waits (a worker may start, or go away).
 *
 * BullMQ names each worker's Redis connection after its queue, so `CLIENT LIST` shows the workers
 * (`queue.getWorkers()`). Some managed Redis services refuse `CLIENT LIST`; then the answer is unknown
 * and nothing is said.
 */
import type { Queue } from 'bullmq';

/** BullMQ's stand-in entry when Redis refuses CLIENT LIST (it is not a worker). */
const CLIENT_LIST_REFUSED = 'GCP does not support client list';

/** Workers connected to the queue now, or undefined when Redis does not say. */
export async function connectedWorkers(queue: Queue): Promise<number | undefined> {
  try {
    const workers = await queue.getWorkers();
    if (workers.some((w) => w.name === CLIENT_LIST_REFUSED)) return undefined;
    return workers.length;
  } catch {
    return undefined;
  }
}

export interface WorkerWatch {
  stop(): void;
}

/**
 * Checks every `intervalMs` (default 2 s), starting at once; calls `onChange(count)` with the first
 * known count and whenever the queue goes from no worker to some, or from some to none.
 */
export function watchWorkers(
  queue: Queue,
  onChange: (count: number) => void,
  options: { intervalMs?: number } = {},
): WorkerWatch {
  let stopped = false;
  let any: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const count = await connectedWorkers(queue);
    if (stopped) return;
    if (count !== undefined && count > 0 !== any) {
      any = count > 0;
      onChange(count);
    }
    timer = setTimeout(() => void check(), options.intervalMs ?? 2000);
    timer.unref();
  };
  void check();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
