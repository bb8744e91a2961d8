/**
 * Shared pieces of the Graph tests: a simulated tenant with one app registration, a tenant
 * configuration pointing at it, a small CONNECT proxy, and Bottleneck key clean-up.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { validateTenant, type TenantConfig, type TenantInput } from '../../../../domain/tenant.js';
import { generateDataset, type DatasetOptions } from '../../../../simulators/dataset.js';
import {
  startGraphSimulator,
  type GraphSimulator,
  type GraphSimulatorOptions,
} from '../../../../simulators/graph/server.js';
import { validTenantInput } from '../../../support/fixtures.js';

export const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
export const CLIENT_SECRET = 'graph-secret-value-Zq8~xY';

export async function startTenant(
  dataset: DatasetOptions = {},
  options: Partial<GraphSimulatorOptions> = {},
): Promise<GraphSimulator> {
  return startGraphSimulator({
    dataset: generateDataset({ seed: 1, ...dataset }),
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    ...options,
  });
}

/** A valid tenant whose Microsoft 365 group points at the simulator. */
export function tenantFor(sim: GraphSimulator, m365: Record<string, unknown> = {}): TenantConfig {
  const input: TenantInput = validTenantInput({
    'Microsoft 365': {
      client_id: CLIENT_ID,
      tenant_id: sim.tenantId,
      client_secret: CLIENT_SECRET,
      graph_base_url: sim.url,
      authority_host: sim.authorityHost,
      ...m365,
    },
  });
  // validTenantInput merges shallowly; a null here removes a field (e.g. the secret for certificate tests)
  const group = input['Microsoft 365'] as Record<string, unknown>;
  for (const [k, v] of Object.entries(group)) if (v === null) delete group[k];
  return validateTenant(input);
}

export async function deleteBottleneckKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `b_${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export interface ConnectProxy {
  url(credentials?: { user: string; password: string }): string;
  /** Tunnels opened, by target host:port. */
  tunnels: string[];
  /** Local ports of the proxy's upstream connections (what the server sees as the client's port). */
  upstreamPorts: Set<number>;
  /** Requests refused for missing or wrong credentials. */
  refused: number;
  close(): Promise<void>;
}

/**
 * A forward proxy for HTTPS (CONNECT only), on loopback. With `credentials`, a tunnel needs a matching
 * Basic Proxy-Authorization, else 407.
 */
export async function startConnectProxy(credentials?: {
  user: string;
  password: string;
}): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const upstreamPorts = new Set<number>();
  const sockets = new Set<Socket>();
  let refused = 0;
  const expected = credentials
    ? `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`
    : undefined;
  const server = createServer((_req, res) => {
    res.writeHead(405).end('CONNECT only');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    if (expected && req.headers['proxy-authorization'] !== expected) {
      refused++;
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    const target = req.url ?? '';
    const [host, port] = [
      target.slice(0, target.lastIndexOf(':')),
      Number(target.slice(target.lastIndexOf(':') + 1)),
    ];
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
      // Loopback only: nothing in a test may leave this machine.
      refused++;
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    tunnels.push(target);
    const upstream = connect(port, host.replace(/^\[|\]$/g, ''), () => {
      upstreamPorts.add(upstream.localPort!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (c) =>
      c
        ? `http://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${port}/`
        : `http://127.0.0.1:${port}/`,
    tunnels,
    upstreamPorts,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** Pulls a whole collection, returning the items and the page sizes seen. */
export async function pullAll(
  iterable: AsyncIterable<Record<string, unknown>[]>,
): Promise<{ items: Record<string, unknown>[]; pageSizes: number[] }> {
  const items: Record<string, unknown>[] = [];
  const pageSizes: number[] = [];
  for await (const page of iterable) {
    pageSizes.push(page.length);
    for (const item of page) items.push(item);
  }
  return { items, pageSizes };
}

/** A limiter loose enough that tests are not slowed by it (limiter behaviour has its own test). */
export const FAST = { requestsPerSecond: 5000, maxConcurrent: 8 };
