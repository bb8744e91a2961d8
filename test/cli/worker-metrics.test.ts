import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metricsSettings, serveMetrics } from '../../observability/metrics-server.js';
import { DEFAULT_METRICS_PORT } from '../../cli/commands/processes.js';
import { parseSettings } from '../../domain/settings.js';

async function listen(env: Record<string, string | undefined>) {
  return serveMetrics({
    ...metricsSettings(parseSettings(env), DEFAULT_METRICS_PORT.worker),
    port: 0,
    healthy: () => true,
  });
}

describe("a worker's /metrics listener", () => {
  it('binds to loopback by default (also when the variable is empty), not to every interface', async () => {
    for (const env of [{}, { M365SYNC_METRICS_HOST: '' }]) {
      const server = await listen(env);
      try {
        expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
        expect(res.status).toBe(200);
      } finally {
        server.close();
      }
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

  it('keeps the port from M365SYNC_METRICS_PORT (9464 for a worker, 9465 for the scheduler by default)', () => {
    expect(metricsSettings(parseSettings({}), DEFAULT_METRICS_PORT.worker)).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(metricsSettings(parseSettings({}), DEFAULT_METRICS_PORT.scheduler).port).toBe(9465);
    expect(metricsSettings(parseSettings({ M365SYNC_METRICS_PORT: '9500' }), 9464).port).toBe(9500);
    expect(() => parseSettings({ M365SYNC_METRICS_PORT: 'ninety' })).toThrow(/M365SYNC_METRICS_PORT/);
  });
});
