import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGraphConnector, type GraphConnector } from '../../../connectors/graph/index.js';
import { graphPageTokenRestarts, graphRetryWait, graphThrottled } from '../../../connectors/graph/metrics.js';
import { SyncError } from '../../../domain/errors.js';
import type { GraphSimulator, RequestRecord } from '../../../simulators/graph/server.js';
import { eventually } from '../../support/eventually.js';
import { FAST, pullAll, startTenant, tenantFor } from './support/simulated-graph.js';

const USERS = 250;
const PAGE = 50;

async function counterValue(
  metric: {
    get(): Promise<{ values: { value: number; labels: Record<string, unknown>; metricName?: string }[] }>;
  },
  labels: Record<string, string>,
  metricName?: string,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => (metricName ? v.metricName === metricName : true))
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

/** The Graph request that followed `faulted` on the same path: the retry. */
function retryOf(log: RequestRecord[], faulted: RequestRecord): RequestRecord {
  const next = log.find((r) => r.seq > faulted.seq && r.kind === 'graph' && r.path === faulted.path);
  if (!next) throw new Error(`no request followed #${faulted.seq}`);
  return next;
}

describe('throttling, faults and recovery, checked from the server side', () => {
  let sim: GraphSimulator;
  let connector: GraphConnector;
  beforeAll(async () => {
    sim = await startTenant({ users: USERS });
  });
  afterEach(async () => {
    sim.setFaults([]);
    await connector?.close();
  });
  afterAll(async () => {
    await sim.close();
  });

  function connect(m365: Record<string, unknown> = {}) {
    connector = createGraphConnector({
      tenant: tenantFor(sim, { msol_user_api_page_size: PAGE, ...m365 }),
      ca: sim.ca,
      limiter: FAST,
      retry: { baseDelayMs: 200, maxDelayMs: 1000 },
    });
    return connector;
  }

  function expectAllUsersOnce(items: Record<string, unknown>[]) {
    expect(items.length).toBe(USERS);
    expect(new Set(items.map((u) => u.id)).size).toBe(USERS);
  }

  it('waits as long as Retry-After says, in seconds or as an HTTP date, and backs off when it is empty', async () => {
    sim.clearLog();
    sim.setFaults([
      { kind: 'throttle', path: '/users', page: 'next', retryAfter: { seconds: 1 } },
      { kind: 'throttle', path: '/users', page: 'next', retryAfter: { dateInSeconds: 1 } },
      { kind: 'throttle', path: '/users', page: 'next', retryAfter: 'empty' },
      { kind: 'unavailable', path: '/users', page: 'next', retryAfter: { seconds: 1 } },
      { kind: 'gatewayTimeout', path: '/users', page: 'next' },
      { kind: 'drop', path: '/users', page: 'next' },
    ]);
    const throttledBefore = await counterValue(graphThrottled, { endpoint: '/users', status: '429' });
    const waitsBefore = await counterValue(
      graphRetryWait,
      { endpoint: '/users', reason: 'retry_after' },
      'm365sync_graph_retry_wait_seconds_count',
    );

    const { items } = await pullAll(connect().pages('users'));
    expectAllUsersOnce(items);
    expect(sim.pendingFaults()).toBe(0);

    const log = sim.requests.filter((r) => r.kind === 'graph');
    const faulted = log.filter((r) => r.fault);
    expect(faulted.map((r) => r.fault)).toEqual([
      'throttle',
      'throttle',
      'throttle',
      'unavailable',
      'gatewayTimeout',
      'drop',
    ]);
    const [seconds, date, empty, unavailable, gateway, drop] = faulted as [RequestRecord, ...RequestRecord[]];
    const gap = (r: RequestRecord) => retryOf(log, r).at - r.at;
    // Timers may fire a hair early relative to another clock; 15 ms of slack, no more.
    expect(seconds.retryAfter).toBe('1');
    expect(gap(seconds)).toBeGreaterThanOrEqual(1000 - 15);
    expect(retryOf(log, date!).at).toBeGreaterThanOrEqual(Date.parse(date!.retryAfter!) - 15);
    expect(empty!.retryAfter).toBe('');
    expect(gap(empty!)).toBeGreaterThanOrEqual(100 - 15); // backoff: at least half of the 200 ms first step
    expect(gap(unavailable!)).toBeGreaterThanOrEqual(1000 - 15);
    expect(gap(gateway!)).toBeGreaterThanOrEqual(100 - 15);
    expect(gap(drop!)).toBeGreaterThanOrEqual(100 - 15);

    expect(await counterValue(graphThrottled, { endpoint: '/users', status: '429' })).toBe(
      throttledBefore + 3,
    );
    expect(
      await counterValue(
        graphRetryWait,
        { endpoint: '/users', reason: 'retry_after' },
        'm365sync_graph_retry_wait_seconds_count',
      ),
    ).toBe(waitsBefore + 3);
  });

  it('reads a page again when the connection is lost mid-body', async () => {
    sim.clearLog();
    sim.setFaults([{ kind: 'resetMidBody', path: '/users', page: 'next', times: 2 }]);
    const { items } = await pullAll(connect().pages('users'));
    expectAllUsersOnce(items);
    const log = sim.requests.filter((r) => r.kind === 'graph');
    const cut = log.filter((r) => r.fault === 'resetMidBody');
    expect(cut).toHaveLength(2);
    expect(retryOf(log, cut[1]!).status).toBe(200);
  });

  it('renews an expired token once and carries on', async () => {
    sim.clearLog();
    sim.setFaults([{ kind: 'expiredToken', path: '/users', page: 'next' }]);
    const { items } = await pullAll(connect().pages('users'));
    expectAllUsersOnce(items);
    const log = sim.requests;
    const rejected = log.find((r) => r.status === 401)!;
    expect(rejected).toBeDefined();
    expect(log.filter((r) => r.kind === 'token' && r.status === 200).length).toBe(2);
    const renewal = log.find((r) => r.kind === 'token' && r.seq > rejected.seq)!;
    expect(retryOf(log, rejected).seq).toBeGreaterThan(renewal.seq);
    expect(retryOf(log, rejected).status).toBe(200);
  });

  it('fails with AUTHENTICATION when Graph keeps rejecting fresh tokens, after one renewal', async () => {
    sim.clearLog();
    sim.setFaults([{ kind: 'expiredToken', path: '/users', times: 5 }]);
    const error = await pullAll(connect().pages('users')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).code).toBe('AUTHENTICATION');
    expect(sim.requests.filter((r) => r.kind === 'graph').length).toBe(2);
  });

  it('restarts the collection when the page token expired (400 Directory_ExpiredPageToken or 410)', async () => {
    for (const kind of ['expiredPageToken', 'gone'] as const) {
      sim.clearLog();
      sim.setFaults([{ kind, path: '/users', page: 'next' }]);
      const before = await counterValue(graphPageTokenRestarts, { endpoint: '/users' });
      const restarts: number[] = [];
      const { items } = await pullAll(
        connect().pages('users', { onRestart: (i) => restarts.push(i.pagesBefore) }),
      );
      await connector.close();
      expect(new Set(items.map((u) => u.id)).size).toBe(USERS);
      expect(restarts).toHaveLength(1);
      expect(items.length).toBe(USERS + restarts[0]! * PAGE); // pages handed on before the restart come again
      expect(sim.requests.filter((r) => r.kind === 'graph' && !r.hasSkiptoken).length).toBe(2);
      expect(await counterValue(graphPageTokenRestarts, { endpoint: '/users' })).toBe(before + 1);
    }
  });

  it('a 403 names the missing permission and is not retried', async () => {
    await sim.close();
    sim = await startTenant(
      { users: USERS },
      {
        apps: [
          {
            clientId: tenantFor(sim)['Microsoft 365'].client_id,
            clientSecret: tenantFor(sim)['Microsoft 365'].client_secret!,
            roles: ['User.Read.All'],
          },
        ],
      },
    );
    const c = connect();
    const error = (await pullAll(c.pages('groups')).catch((e: unknown) => e)) as SyncError;
    expect(error).toBeInstanceOf(SyncError);
    expect(error.code).toBe('PERMISSION');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Group.Read.All');
    expect(error.message).toContain('/groups');
    expect(sim.requests.filter((r) => r.kind === 'graph').length).toBe(1);

    const licences = (await pullAll(c.pages('licences')).catch((e: unknown) => e)) as SyncError;
    expect(licences.message).toContain('Organization.Read.All');

    const check = await c.testConnection();
    expect(check.ok).toBe(false);
    expect(check.checks.find((x) => x.endpoint === '/users')?.ok).toBe(true);
    expect(check.checks.find((x) => x.endpoint === '/groups')).toMatchObject({
      ok: false,
      permission: 'Group.Read.All',
    });
  });

  it('gives up on a throttled request after the configured attempts, as retryable THROTTLED', async () => {
    sim.clearLog();
    sim.setFaults([{ kind: 'throttle', path: '/users', times: 10, retryAfter: { seconds: 0 } }]);
    connector = createGraphConnector({
      tenant: tenantFor(sim, { msol_user_api_page_size: PAGE }),
      ca: sim.ca,
      limiter: FAST,
      retry: { maxAttempts: 3 },
    });
    const error = (await pullAll(connector.pages('users')).catch((e: unknown) => e)) as SyncError;
    expect(error.code).toBe('THROTTLED');
    expect(error.retryable).toBe(true);
    expect(sim.requests.filter((r) => r.kind === 'graph').length).toBe(3);
  });

  it('stops at once when the caller aborts, sending nothing more', async () => {
    sim.clearLog();
    sim.setFaults([{ kind: 'throttle', path: '/users', page: 'next', retryAfter: { seconds: 30 } }]);
    const controller = new AbortController();
    const pulling = pullAll(connect().pages('users', { signal: controller.signal })).catch((e: unknown) => e);
    await eventually(async () => sim.requests.some((r) => r.status === 429), 10_000);
    const started = Date.now();
    controller.abort();
    const error = (await pulling) as SyncError;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('CANCELLED');
    // Nothing more is sent: an absence, so it is looked for over a short quiet time (no state to
    // wait on; the 30 s Retry-After wait it would come from is far longer).
    const count = sim.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.requests.length).toBe(count);
  });
});
