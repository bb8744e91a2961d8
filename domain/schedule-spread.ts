/**
 * A tenant's stable place inside a span of time, from a hash of its id: where its nightly full pull
 * starts in the nightly window, and its phase within its delta interval (queues/schedules.ts,
 * queues/delta-schedules.ts). Stable across redeploys; spread evenly, so a thousand tenants do not
 * start in the same second.
 */
import { createHash } from 'node:crypto';

/** A tenant's stable offset into a span of `minutes`, in seconds: from the first 6 bytes of SHA-256 of its id. */
export function spreadOffsetSeconds(tenantId: string, minutes: number): number {
  const n = createHash('sha256').update(tenantId).digest().readUIntBE(0, 6);
  return n % (minutes * 60);
}
