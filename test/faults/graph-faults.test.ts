/**
 * Graph faults during full pulls, with the real engine and the Graph simulator over HTTPS on loopback:
 * 429 on every other request (with and without Retry-After), 503 bursts (one the retries outlast, one
 * they do not), and a connection reset mid-body. Small pages, so a run makes dozens of Graph requests.
 * Each run ends with MongoDB compared with the data set kind by kind, and every run record terminal
 * and truthful.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changeDataset, type Dataset } from '../../simulators/dataset.js';
import type { FaultInput } from '../../simulators/graph/server.js';
import { startEngine, type Engine } from '../e2e/support/engine.js';
import { expectDataAfter, expectedIds as allExpectedIds, expectRunsTruthful } from './expected-data.js';

/** The runs here pull the Graph kinds only: the PowerShell side is covered by its own fault cases. */
const GRAPH_KINDS = ['users', 'groups', 'teams', 'licences'];
const expectedIds = (ds: Dataset) =>
  Object.fromEntries(Object.entries(allExpectedIds(ds)).filter(([kind]) => GRAPH_KINDS.includes(kind)));

describe('Graph faults', { timeout: 180_000 }, () => {
  let engine: Engine;
  let tenantId: string;
  let night = 0;

  beforeAll(async () => {
    engine = await startEngine('graphfaults', {
      dataset: { seed: 9, users: 60 },
      // Retries as in production, with a shorter backoff (Retry-After is honoured as sent).
      graphRetry: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 },
    });
    const input = engine.sim.tenantInput;
    tenantId = (
      await engine.stores.tenants.add({
        ...input,
        'Microsoft 365': { ...input['Microsoft 365'], msol_user_api_page_size: 15, groups_api_page_size: 8 },
      })
    ).id;
    const first = await engine.sync(tenantId, 'baseline', GRAPH_KINDS);
    expect(first.status).toBe('succeeded');
  }, 120_000);

  afterEach(() => engine.sim.graph.setFaults([]));

  afterAll(async () => {
    await expectRunsTruthful(engine.mongo.db, tenantId);
    await engine?.close();
  });

  function nextNight(): { yesterday: Dataset; today: Dataset } {
    night++;
    const yesterday = engine.sim.dataset();
    const today = changeDataset(
      yesterday,
      { removeUsers: 3, addUsers: 4, renameUsers: 2, removePolicies: 1 },
      200 + night,
    );
    engine.sim.setDataset(today);
    return { yesterday, today };
  }

  /** Runs a sync under these faults; returns the run and how many requests the faults answered. */
  async function syncWith(faults: FaultInput[], label: string) {
    engine.sim.graph.clearLog();
    engine.sim.graph.setFaults(faults);
    const run = await engine.sync(tenantId, label, GRAPH_KINDS);
    const faulted = engine.sim.graph.requests.filter((r) => r.fault !== undefined);
    return { run, faulted, graphRequests: engine.sim.graph.requests.filter((r) => r.kind === 'graph') };
  }

  it('429 on every other Graph request, with Retry-After: every kind complete and current', async () => {
    const { today } = nextNight();
    const { run, faulted, graphRequests } = await syncWith(
      [{ kind: 'throttle', times: 1000, every: 2, retryAfter: { seconds: 1 } }],
      'throttled-retry-after',
    );
    expect(run.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    expect(faulted.length).toBeGreaterThanOrEqual(8);
    // Each request's first try refused, its retry answered: exactly half.
    expect(faulted.length * 2).toBe(graphRequests.length);
    expect(faulted.every((r) => r.status === 429 && r.retryAfter === '1')).toBe(true);
  });

  it('429 on every other Graph request, without Retry-After (exponential backoff): complete and current', async () => {
    const { today } = nextNight();
    const { run, faulted, graphRequests } = await syncWith(
      [{ kind: 'throttle', times: 1000, every: 2, retryAfter: 'none' }],
      'throttled-backoff',
    );
    expect(run.status, JSON.stringify(run.kinds)).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    expect(faulted.length).toBeGreaterThanOrEqual(8);
    expect(faulted.length * 2).toBe(graphRequests.length);
    expect(faulted.every((r) => r.status === 429 && r.retryAfter === undefined)).toBe(true);
  });

  it('a burst of 503s shorter than the retries: complete and current', async () => {
    const { today } = nextNight();
    const { run, faulted } = await syncWith(
      [{ kind: 'unavailable', times: 4, path: '/users', page: 'next' }],
      '503-burst',
    );
    expect(run.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    expect(faulted).toHaveLength(4);
  });

  it('a burst of 503s on /groups longer than the retries: groups and teams fail and keep yesterday’s data, the rest is current', async () => {
    const { yesterday, today } = nextNight();
    const { run } = await syncWith([{ kind: 'unavailable', times: 1000, path: '/groups' }], '503-outage');
    expect(run.status).toBe('partial');
    expect(run.kinds.groups).toMatchObject({ status: 'failed', error: { code: 'TRANSIENT' } });
    expect(run.kinds.users?.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), expectedIds(yesterday));
    engine.sim.graph.setFaults([]);
    const recovered = await engine.sync(tenantId, 'after-outage', GRAPH_KINDS);
    expect(recovered.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, recovered, expectedIds(today), {});
  });

  it('connections reset mid-body: the pages are read again, complete and current, nothing twice', async () => {
    const { today } = nextNight();
    const { run, faulted } = await syncWith(
      [
        { kind: 'resetMidBody', times: 2, path: '/users', page: 'next' },
        { kind: 'resetMidBody', times: 1, path: '/groups' },
        { kind: 'resetMidBody', times: 1, path: '/subscribedSkus' },
      ],
      'reset-mid-body',
    );
    expect(run.status, JSON.stringify(run.kinds)).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    expect(faulted.map((r) => r.fault)).toEqual([
      'resetMidBody',
      'resetMidBody',
      'resetMidBody',
      'resetMidBody',
    ]);
  });
});
