import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { metricsAddress, serveMetrics } from '../../scripts/commands/processes.js';

async function listen(env: NodeJS.ProcessEnv) {
  const server = serveMetrics({ ...metricsAddress(env), port: 0 }, () => true);
  await once(server, 'listening');
  return server;
}

describe("a worker's /metrics listener", () => {
  it('binds to loopback by default, not to every interface', async () => {
    const server = await listen({});
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
      expect(res.status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('binds where M365SYNC_METRICS_HOST says', async () => {
    const server = await listen({ M365SYNC_METRICS_HOST: '127.0.0.2' });
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.2');
    } finally {
      server.close();
    }
  });

  it('keeps the port from M365SYNC_METRICS_PORT (9464 by default)', () => {
    expect(metricsAddress({})).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(metricsAddress({ M365SYNC_METRICS_PORT: '9500' }).port).toBe(9500);
  });
});
