/**
 * Shells per PowerShell proxy across the fleet: a counting semaphore in Redis, one sorted set per
 * proxy whose members are the slots held now (a random token each) scored by when their lease ends.
 *
 * Why leases in a Lua script rather than Bottleneck's clustered limiter: a shell may stay open for an
 * hour, a worker may die holding one (SIGKILL, a lost host), and a cancelled sync must stop waiting at
 * once. Here a dead worker's slot frees itself when its lease lapses (each holder renews every third
 * of the lease), a waiter gives up through its AbortSignal without leaving a queued job behind, the
 * limit is the caller's on every acquire (a changed setting holds at once, not when Bottleneck's
 * stored settings expire), and the time is Redis's (`TIME`), so hosts' clocks do not matter. One key
 * per script, so it runs on Redis Cluster unchanged. Waiters poll (backing off to `pollMaxMs`); the
 * order between processes is not first-come-first-served.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { WINRM_DEFAULTS } from './defaults.js';
import { abortError, type SlotSemaphore } from './shell-slots.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { untilAborted } from '../../domain/abort.js';

/** Drops lapsed leases, then takes a slot if fewer than the limit are held. Returns 1 or 0. */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1`;

/** Extends a held slot's lease; 1 when the slot had lapsed meanwhile (it is taken again: the shell is open). */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local added = redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return added`;

/** Why a failed release may be ignored. */
const SLOT_LAPSES = 'a slot not released frees itself when its lease lapses';

export interface FleetShellSlotsOptions {
  /** Slots across every process (M365SYNC_WINRM_MAX_SHELLS_PER_PROXY). */
  limit: number;
  /**
   * How long a slot outlives its holder's last renewal (M365SYNC_WINRM_SHELL_SLOT_LEASE_MS).
   * @default WINRM_DEFAULTS.shellSlotLeaseMs (60 s)
   */
  leaseMs?: number;
  /** Longest pause between two tries of a waiter (default 500 ms). */
  pollMaxMs?: number;
  /** Told when a renewal finds the slot lapsed or fails (a Redis outage); the slot stays held here. */
  onLeaseProblem?: (problem: { lapsed: boolean; error?: unknown }) => void;
}

/** The Redis key of one proxy's slots. */
export function fleetShellSlotsKey(prefix: string, proxy: string): string {
  return `${prefix}:winrm:shell-slots:${proxy}`;
}

export class FleetShellSlots implements SlotSemaphore {
  readonly limit: number;
  private readonly leaseMs: number;
  private readonly pollMaxMs: number;
  private used = 0;
  private peakUsed = 0;
  private waiters = 0;

  constructor(
    private readonly redis: Redis | Cluster,
    readonly key: string,
    private readonly options: FleetShellSlotsOptions,
  ) {
    this.limit = options.limit;
    this.leaseMs = options.leaseMs ?? WINRM_DEFAULTS.shellSlotLeaseMs;
    this.pollMaxMs = options.pollMaxMs ?? 500;
  }

  get inUse(): number {
    return this.used;
  }

  get peak(): number {
    return this.peakUsed;
  }

  get waiting(): number {
    return this.waiters;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw abortError(signal);
    const token = randomBytes(9).toString('base64url');
    this.waiters++;
    try {
      for (let pause = 20; ; pause = Math.min(pause * 2, this.pollMaxMs)) {
        // Raced with the signal: while Redis does not answer, a run told to stop must not wait for it.
        // A slot granted after the run gave up is handed back.
        const granted = await untilAborted(
          this.redis.eval(ACQUIRE, 1, this.key, token, this.limit, this.leaseMs),
          signal,
          (late) => {
            if (late === 1) this.redis.zrem(this.key, token).catch(ignoreBecause(SLOT_LAPSES));
          },
        ).catch((error: unknown) => {
          throw signal?.aborted ? abortError(signal) : error;
        });
        if (signal?.aborted) {
          if (granted === 1) await this.redis.zrem(this.key, token).catch(ignoreBecause(SLOT_LAPSES));
          throw abortError(signal);
        }
        if (granted === 1) break;
        // Jitter, so that waiters of many processes do not try in step.
        await abortableDelay(pause / 2 + Math.random() * (pause / 2), signal);
      }
    } finally {
      this.waiters--;
    }
    this.used++;
    this.peakUsed = Math.max(this.peakUsed, this.used);
    const renew = setInterval(
      () => {
        this.redis.eval(RENEW, 1, this.key, token, this.leaseMs).then(
          (lapsed) => lapsed === 1 && this.options.onLeaseProblem?.({ lapsed: true }),
          (error: unknown) => this.options.onLeaseProblem?.({ lapsed: false, error }),
        );
      },
      Math.max(10, Math.floor(this.leaseMs / 3)),
    );
    renew.unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      this.used--;
      // A release that fails (Redis away) is covered by the lease: the slot frees itself when it lapses.
      this.redis.zrem(this.key, token).catch(ignoreBecause(SLOT_LAPSES));
    };
  }
}

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
