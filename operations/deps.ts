/**
 * What every operation is given. A process (the API, a CLI command, the scheduler, the console) opens
 * the parts of the engine once: its stores, the sync queue, the trigger queue (where the tenants' job
 * schedulers live), its parsed settings, its logger. Every operation has one form, `op(deps, input)`:
 * `deps` is that one object, narrowed to the parts the operation uses (so a test or a tool passes
 * only those), and `input` is what is asked.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Stores } from '../connectors/mongo/index.js';
import type { Settings } from '../domain/settings.js';
import type { SyncJobData } from '../queues/sync-queue.js';

export interface OperationDeps {
  stores: Stores;
  /** The sync queue (queues/sync-queue.ts). */
  queue: Queue<SyncJobData, unknown, string>;
  /** The scheduler's trigger queue, where the tenants' job schedulers live (queues/schedules.ts). */
  triggers: Queue;
  settings: Settings;
  logger: Logger;
}

/** The part of OperationDeps an operation uses: some of the stores (none: no `stores`), and some of the other parts. */
export type Uses<S extends keyof Stores, O extends Exclude<keyof OperationDeps, 'stores'> = never> = ([
  S,
] extends [never]
  ? unknown
  : { stores: Pick<Stores, S> }) &
  Pick<OperationDeps, O>;
