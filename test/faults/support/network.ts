/**
 * A small network of worker "hosts" for the partition test: a bridge in the root network namespace
 * with three addresses of a private /24 (MongoDB, Redis, the simulated tenant: each service on its own
 * address, so one can be cut alone), and one network namespace per host joined to the bridge by a
 * veth pair. A host is cut off entirely by taking its cable out (the bridge side of its veth down), or
 * from one service only by a blackhole route to that service's address inside its namespace (this
 * machine has no iptables or nft). Names are unique per run; close() removes everything it made,
 * and is safe to call after a half-made network.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface WorkerHost {
  /** The network namespace the host's processes run in. */
  netns: string;
  /** Its address on the bridge. */
  address: string;
  /** The bridge side of its veth pair: down is the cable pulled out. */
  cable: string;
}

export interface TestNetwork {
  /** Addresses on the bridge, in the root namespace: listen on them to be reachable by the hosts. */
  mongoAddress: string;
  redisAddress: string;
  tenantAddress: string;
  hosts: WorkerHost[];
  /** Cut the host off from everything (link down); `reconnect` brings it back. */
  cutOff(host: WorkerHost): void;
  reconnect(host: WorkerHost): void;
  /** Cut the host off from one address only (a blackhole route); `heal` removes the route. */
  blackhole(host: WorkerHost, address: string): void;
  heal(host: WorkerHost, address: string): void;
  close(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Why network namespaces cannot be used here (not root, no `ip`, a container without the
 * capability), found by trying to make one; undefined when they can.
 */
export function networkNamespacesUnavailable(): string | undefined {
  const name = `m365probe-${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', name);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `network namespaces are not available here (\`ip netns add\` failed: ${stderr || (error as Error).message})`;
  }
  try {
    ip('netns', 'del', name);
  } catch {
    // Made but not removed: close enough to "available"; nothing else to do with it.
  }
  return undefined;
}

/** A /24 under 10.77 that no interface of this machine has an address in. */
function freeSubnet(): string {
  const used = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
  for (;;) {
    const third = 100 + (randomBytes(1)[0]! % 150);
    const subnet = `10.77.${third}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
}

export function startTestNetwork(hostCount: number): TestNetwork {
  const id = randomBytes(3).toString('hex');
  const subnet = freeSubnet();
  const bridge = `m3br${id}`;
  const namespaces: string[] = [];
  const close = () => {
    for (const ns of namespaces.splice(0)) {
      try {
        ip('netns', 'del', ns); // its veth end goes with it, and the peer with that
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // never made, or already gone
    }
  };
  const hosts: WorkerHost[] = [];
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    for (const last of [1, 2, 3]) ip('addr', 'add', `${subnet}.${last}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 0; i < hostCount; i++) {
      const netns = `m365part-${id}-${i + 1}`;
      const cable = `m3v${id}${i + 1}`;
      const inside = `m3h${id}${i + 1}`;
      const address = `${subnet}.${11 + i}`;
      ip('netns', 'add', netns);
      namespaces.push(netns);
      ip('link', 'add', cable, 'type', 'veth', 'peer', 'name', inside);
      ip('link', 'set', inside, 'netns', netns);
      ip('link', 'set', cable, 'master', bridge);
      ip('link', 'set', cable, 'up');
      ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside);
      ip('-n', netns, 'link', 'set', inside, 'up');
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      hosts.push({ netns, address, cable });
    }
  } catch (error) {
    close();
    throw error;
  }
  return {
    mongoAddress: `${subnet}.1`,
    redisAddress: `${subnet}.2`,
    tenantAddress: `${subnet}.3`,
    hosts,
    cutOff: (host) => ip('link', 'set', host.cable, 'down'),
    reconnect: (host) => ip('link', 'set', host.cable, 'up'),
    blackhole: (host, address) => ip('-n', host.netns, 'route', 'add', 'blackhole', `${address}/32`),
    heal: (host, address) => ip('-n', host.netns, 'route', 'del', 'blackhole', `${address}/32`),
    close,
  };
}
