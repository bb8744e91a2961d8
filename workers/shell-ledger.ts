/**
 * The shell ledger in Redis (see connectors/winrm/shell-ledger.ts): each worker process records the
 * WinRM shells it opens under its own instance id, and keeps an "alive" key with a TTL refreshed while
 * it runs. A worker that starts looks for instances whose alive key has expired — processes that died
 * without cleaning up — and deletes their shells on the proxies (workers/leftover-shells.ts).
 *
 * Keys (under the queue prefix): `<prefix>:winrm-shells:instances` (set of instance ids),
 * `<prefix>:winrm-shells:<instance>` (hash `proxy shellId` → entry JSON), and
 * `<prefix>:winrm-shells:<instance>:alive`. No credential is ever stored: an entry names the tenant,
 * and the cleanup reads the proxy account from the tenant.
 */
import type { Cluster, Redis } from 'ioredis';
import type { OpenShellEntry, ShellLedger } from '../connectors/winrm/index.js';
import { ignoreBecause } from '../domain/ignored-failure.js';

export interface RedisShellLedgerOptions {
  /** The BullMQ key prefix. */
  prefix: string;
  /** This process (the worker id). */
  instanceId: string;
  /**
   * How long the instance counts as alive after its last refresh (refreshed every third of it). Its
   * shells are only deleted by others once this has passed, so keep it well above a Redis outage
   * a worker is expected to ride out.
   */
  aliveTtlMs: number;
}

export interface OrphanShells {
  instanceId: string;
  entries: OpenShellEntry[];
}

export class RedisShellLedger implements ShellLedger {
  private readonly base: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: RedisShellLedgerOptions,
  ) {
    this.base = `${options.prefix}:winrm-shells`;
  }

  private hash(instanceId: string): string {
    return `${this.base}:${instanceId}`;
  }

  private alive(instanceId: string): string {
    return `${this.base}:${instanceId}:alive`;
  }

  private static field(proxy: string, shellId: string): string {
    return `${proxy} ${shellId}`;
  }

  /** Marks this instance alive and keeps it so until stop(). */
  async start(): Promise<void> {
    await this.redis.sadd(`${this.base}:instances`, this.options.instanceId);
    await this.refresh();
    this.timer = setInterval(
      () =>
        void this.refresh().catch(
          ignoreBecause('the next refresh, a third of the alive time later, makes up for a missed one'),
        ),
      Math.max(100, Math.floor(this.options.aliveTtlMs / 3)),
    );
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    await this.redis.set(
      this.alive(this.options.instanceId),
      String(Date.now()),
      'PX',
      this.options.aliveTtlMs,
    );
  }

  async opened(entry: OpenShellEntry): Promise<void> {
    await this.redis.hset(
      this.hash(this.options.instanceId),
      RedisShellLedger.field(entry.proxy, entry.shellId),
      JSON.stringify(entry),
    );
  }

  async closed(proxy: string, shellId: string): Promise<void> {
    await this.redis.hdel(this.hash(this.options.instanceId), RedisShellLedger.field(proxy, shellId));
  }

  /** Shells recorded by instances that are no longer alive (never this one). */
  async orphans(): Promise<OrphanShells[]> {
    const instances = await this.redis.smembers(`${this.base}:instances`);
    const out: OrphanShells[] = [];
    for (const instanceId of instances) {
      if (instanceId === this.options.instanceId) continue;
      if ((await this.redis.exists(this.alive(instanceId))) === 1) continue;
      const fields = await this.redis.hgetall(this.hash(instanceId));
      const entries: OpenShellEntry[] = [];
      for (const value of Object.values(fields)) {
        try {
          entries.push(JSON.parse(value) as OpenShellEntry);
        } catch {
          // An entry we cannot read names no shell we could delete.
        }
      }
      out.push({ instanceId, entries });
    }
    return out;
  }

  /** Drops entries of a dead instance (deleted, gone, or given up on); the instance too once empty. */
  async forget(instanceId: string, entries: readonly OpenShellEntry[]): Promise<void> {
    if (entries.length > 0) {
      await this.redis.hdel(
        this.hash(instanceId),
        ...entries.map((e) => RedisShellLedger.field(e.proxy, e.shellId)),
      );
    }
    if ((await this.redis.hlen(this.hash(instanceId))) === 0) {
      await this.redis.srem(`${this.base}:instances`, instanceId);
    }
  }

  /** What this instance has recorded as open now. */
  async mine(): Promise<OpenShellEntry[]> {
    const fields = await this.redis.hgetall(this.hash(this.options.instanceId));
    return Object.values(fields).map((v) => JSON.parse(v) as OpenShellEntry);
  }

  /**
   * At shutdown, after the open shells were deleted: stops the refresh and lets the instance die, so
   * that a shell whose Delete failed is cleaned up by the next worker that starts.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(this.alive(this.options.instanceId));
    if ((await this.redis.hlen(this.hash(this.options.instanceId))) === 0) {
      await this.redis.srem(`${this.base}:instances`, this.options.instanceId);
    }
  }
}
