/**
 * Leader election among scheduler processes: a Redis key set with `SET NX PX` holds the leader's id;
 * the leader renews it before it expires, and renewal and release only touch the key if it still
 * holds our id (a Lua compare-and-set), so a process that paused past the ttl cannot renew or delete
 * its successor's lock. Only the leader upserts job schedulers: replicas upserting at once is how
 * BullMQ schedulers got duplicated or lost (bullmq #2876, #2988).
 */
import type { Cluster, Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class LeaderLock {
  constructor(
    private readonly redis: Redis | Cluster,
    readonly key: string,
    readonly owner: string,
    readonly ttlMs: number,
  ) {}

  /** Becomes leader, or stays leader; false if another process leads. */
  async acquireOrRenew(): Promise<boolean> {
    const renewed = (await this.redis.eval(RENEW, 1, this.key, this.owner, String(this.ttlMs))) as number;
    if (renewed === 1) return true;
    const set = await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX');
    return set === 'OK';
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }

  async leader(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
