/**
 * The API's request metrics, read from its own /metrics: every route's series exist at zero before
 * its first request (so `increase()` sees a first error), requests are counted by route template
 * (never the id in the URL) and status class, and a URL no route serves is one `unmatched` series.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
let token: string;

beforeAll(async () => {
  api = await startTestApi('http-metrics', async (stores) => {
    token = (await stores.tokens.create({ name: 'metrics', role: 'admin', scope: '*' }, 'test')).token;
  });
});
afterAll(async () => api?.close());

/** The value of one series of the exposition, or undefined when it is absent. */
async function series(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.slice(0, l.indexOf('}')).includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('API request metrics', () => {
  it('start every route at zero, count by route template and status class', async () => {
    const total = 'm365sync_api_requests_total';
    for (const status_class of ['2xx', '4xx', '5xx'])
      expect(await series(total, { method: 'GET', route: '/tenants/:ref', status_class })).toBe(0);
    expect(
      await series('m365sync_api_request_duration_seconds_count', {
        method: 'POST',
        route: '/tenants/:ref/sync',
      }),
    ).toBe(0);

    expect((await callApi(api.base, token, 'GET', '/tenants/ghost')).status).toBe(404);
    expect((await callApi(api.base, token, 'GET', '/tenants')).status).toBe(200);
    expect((await callApi(api.base, token, 'GET', '/no/such/route')).status).toBe(404);

    expect(await series(total, { method: 'GET', route: '/tenants/:ref', status_class: '4xx' })).toBe(1);
    expect(await series(total, { method: 'GET', route: '/tenants/:ref', status_class: '2xx' })).toBe(0);
    expect(await series(total, { method: 'GET', route: '/tenants', status_class: '2xx' })).toBe(1);
    expect(await series(total, { method: 'GET', route: 'unmatched', status_class: '4xx' })).toBe(1);
    expect(
      await series('m365sync_api_request_duration_seconds_count', { method: 'GET', route: '/tenants' }),
    ).toBe(1);
    // Never the id or the URL itself.
    const text = await (await fetch(`${api.base}/metrics`)).text();
    expect(text).not.toContain('ghost');
    expect(text).not.toContain('/no/such/route');
  });
});
