import { createHash } from 'node:crypto';
import os from 'node:os';

/**
 * IP affinity for the PowerShell proxy pool. Each worker ranks the proxies by rendezvous (highest
 * random weight) hashing of its affinity key, so all of a worker's shells live on one node, every
 * worker has its own fail-over order, and adding or removing a proxy moves only the workers whose
 * first choice it was.
 */

/** The proxies in this key's order of preference. */
export function rendezvousOrder(affinityKey: string, proxies: readonly string[]): string[] {
  return proxies
    .map((proxy) => ({
      proxy,
      weight: createHash('sha256').update(`${affinityKey}\u0000${proxy}`).digest().readBigUInt64BE(0),
    }))
    .sort((a, b) => (a.weight === b.weight ? a.proxy.localeCompare(b.proxy) : a.weight > b.weight ? -1 : 1))
    .map((p) => p.proxy);
}

/**
 * The default affinity key: this machine's own address (the first non-internal IPv4, else IPv6,
 * else the host name), which is also what the proxies and a load balancer see as the client IP.
 * Every worker process on one machine therefore shares one proxy. `M365SYNC_WINRM_AFFINITY_KEY`
 * (the pool's `affinityKey`) overrides it (for example with the pod name, when many pods share a
 * node's address).
 */
export function defaultAffinityKey(): string {
  const addresses = Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => a !== undefined && !a.internal);
  const address = addresses.find((a) => a.family === 'IPv4') ?? addresses.find((a) => a.family === 'IPv6');
  return address?.address ?? os.hostname();
}
