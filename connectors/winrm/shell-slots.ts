import { SyncError } from '../../domain/errors.js';

/**
 * What the proxy pool asks of a proxy's shell slots: a slot before each shell, given back after.
 * `inUse`, `peak` and `waiting` are this process's share (status pages, tests).
 */
export interface SlotSemaphore {
  readonly limit: number;
  readonly inUse: number;
  readonly peak: number;
  readonly waiting: number;
  /** Resolves with a release function, once a slot is free; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
}

/**
 * At most `limit` shells at once on one proxy, in this process: a counting semaphore whose waiters
 * are served in order and can give up through an AbortSignal. Without Redis (tests, the in-process
 * engine); a fleet uses FleetShellSlots (fleet-shell-slots.ts), which holds for every process.
 */
export class ShellSlots implements SlotSemaphore {
  private used = 0;
  private peakUsed = 0;
  private readonly waiters: { grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
  }

  get peak(): number {
    return this.peakUsed;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function, once a slot is free. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw abortError(signal);
    if (this.used < this.limit) {
      this.used++;
      this.peakUsed = Math.max(this.peakUsed, this.used);
      return this.releaser();
    }
    // A releasing holder hands its slot straight to the first waiter, so `used` never overshoots.
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.used--;
    };
  }
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason instanceof SyncError
    ? signal.reason
    : new SyncError('CANCELLED', 'waiting for a free shell on the PowerShell proxy was cancelled');
}
