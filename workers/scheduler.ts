/**
 * The scheduler process: keeps each tenant's BullMQ job schedulers, for the nightly full pull and the
 * delta runs (queues/schedules.ts, queues/delta-schedules.ts). Several may run for availability; a
 * Redis leader lock (queues/leader-lock.ts) lets only one reconcile at a time.
 * The leader reconciles at once when it becomes leader (start-up, redeploy, failover) and then every
 * SCHEDULER_RECONCILE_MS, which picks up tenants added, changed or removed; the API and CLI can also
 * reconcile one tenant at once (reconcileTenantSchedule).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { DEFAULT_SETTINGS } from '../domain/settings.js';
import { createRedisClient, type RedisSettings } from '../queues/connection.js';
import { LeaderLock } from '../queues/leader-lock.js';
import {
  createTriggerQueue,
  DEFAULT_SCHEDULE_SETTINGS,
  reconcileSchedules,
  type ReconcileResult,
  type SchedulerChanges,
  type ScheduleSettings,
  type ScheduleStores,
} from '../queues/schedules.js';
import { logger as defaultLogger } from '../observability/logger.js';

export interface StartSchedulerOptions {
  redis: RedisSettings;
  stores: ScheduleStores;
  /** The nightly window and the delta schedules (scheduleSettings(settings)); default the documented ones. */
  schedule?: ScheduleSettings;
  /** SCHEDULER_RECONCILE_MS: how often the leader reconciles. */
  reconcileMs?: number;
  /** SCHEDULER_LEADER_TTL_MS: how long the leader lock lasts without renewal. */
  leaderTtlMs?: number;
  id?: string;
  logger?: Logger;
}

export interface SchedulerProcess {
  readonly id: string;
  isLeader(): boolean;
  /** Reconciles now if this process leads; null if it does not. */
  tick(): Promise<ReconcileResult | null>;
  close(): Promise<void>;
}

export async function startScheduler(options: StartSchedulerOptions): Promise<SchedulerProcess> {
  const reconcileMs = options.reconcileMs ?? DEFAULT_SETTINGS.SCHEDULER_RECONCILE_MS;
  const leaderTtlMs = options.leaderTtlMs ?? DEFAULT_SETTINGS.SCHEDULER_LEADER_TTL_MS;
  const settings = options.schedule ?? DEFAULT_SCHEDULE_SETTINGS;
  const log = options.logger ?? defaultLogger;
  const id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const redis = createRedisClient(options.redis);
  redis.on('error', (error) => log.warn({ err: { message: error.message } }, 'scheduler redis error'));
  const lock = new LeaderLock(redis, `${options.redis.prefix}:scheduler:leader`, id, leaderTtlMs);
  const queue = createTriggerQueue(options.redis);
  let leader = false;
  let running: Promise<ReconcileResult | null> | undefined;
  let stopped = false;

  async function tick(): Promise<ReconcileResult | null> {
    const wasLeader = leader;
    leader = await lock.acquireOrRenew();
    if (leader !== wasLeader)
      log.info({ id, leader }, leader ? 'became scheduler leader' : 'lost leadership');
    if (!leader) return null;
    const result = await reconcileSchedules(queue, options.stores, settings);
    const counts = (c: SchedulerChanges) => ({
      created: c.created.length,
      updated: c.updated.length,
      removed: c.removed.length,
      failed: c.failed,
    });
    const changed = (c: SchedulerChanges) =>
      c.created.length + c.updated.length + c.removed.length + c.failed.length > 0;
    if (changed(result) || changed(result.delta)) {
      log.info({ ...counts(result), delta: counts(result.delta) }, 'schedules reconciled');
    }
    return result;
  }

  const guardedTick = () => {
    running ??= tick()
      .catch((error: unknown) => {
        log.error({ err: { message: (error as Error).message } }, 'schedule reconcile failed');
        return null;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  // Renew the lock more often than it expires; reconcile on the same beat when due.
  let lastReconcile = 0;
  const beat = setInterval(
    () => {
      if (stopped) return;
      if (Date.now() - lastReconcile >= reconcileMs) {
        lastReconcile = Date.now();
        void guardedTick();
      } else if (leader) {
        lock.acquireOrRenew().then(
          (still) => {
            if (!still) leader = false;
          },
          () => undefined,
        );
      }
    },
    Math.max(50, Math.min(reconcileMs, Math.floor(leaderTtlMs / 3))),
  );
  lastReconcile = Date.now();
  await guardedTick();

  return {
    id,
    isLeader: () => leader,
    tick: () => guardedTick(),
    async close() {
      stopped = true;
      clearInterval(beat);
      await running;
      if (leader)
        await lock
          .release()
          .catch(ignoreBecause('the leader lock lapses by itself; another scheduler takes over then', log));
      leader = false;
      await queue.close();
      redis.disconnect();
    },
  };
}
