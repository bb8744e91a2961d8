/**
 * Load: many small simulated tenants enqueued at once, half through the HTTP API and half through the
 * CLI (`sync --all`), with bursts of repeated operator requests for the same tenants while they run;
 * two worker processes. LOAD_TENANTS tenants (default 60 in CI; more by hand: LOAD_TENANTS=1000).
 * Every tenant synced, at most one follow-up per burst, no job lost, every request recorded once and
 * terminal, finished jobs trimmed from Redis.
 */
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';
import { cli } from '../support/cli.js';
import { eventually } from '../workers/support/harness.js';
import { expectedIds, FaultEngine } from './support/engine.js';
import { recordFault } from './support/outcomes.js';
import { parseSettings } from '../../domain/settings.js';

const TENANTS = Number(process.env.LOAD_TENANTS ?? 60);
const KEEP_COMPLETED = 50;
const BURST = 3;
/**
 * The Graph kinds: the simulated PowerShell side interprets each script in the test process, which
 * would make this a test of the simulator's speed. The PowerShell kinds under faults are the other
 * cases' business (worker-kill, mongo, redis) and the end-to-end tests'.
 */
const KINDS = ['users', 'groups', 'licences'];

describe(`load: ${TENANTS} tenants at once, with bursts of repeated requests`, { timeout: 900_000 }, () => {
  let engine: FaultEngine;
  let app: FastifyInstance;
  let base: string;
  let authorization: string;
  const apiTenants: string[] = [];
  const cliTenants: string[] = [];
  beforeAll(async () => {
    engine = await FaultEngine.start('faultload', {
      enableExchange: false,
      dataset: {
        users: 4,
        groups: 2,
        teams: 1,
        dialPlans: 1,
        policiesPerType: 0,
        callQueues: 1,
        autoAttendants: 1,
        distributionGroups: 0,
        sharedMailboxes: 0,
        roomMailboxes: 0,
      },
    });
    for (let i = 0; i < TENANTS; i++) {
      const half = i % 2 === 0 ? 'api' : 'cli';
      const { id } = await engine.stores.tenants.add({
        ...engine.sim.tenantInput,
        hierarchy: `load.${half}`,
        Tenant: { name: `Load ${i}` },
      });
      (half === 'api' ? apiTenants : cliTenants).push(id);
    }
    // The API records the caller's token name as the actor: one operator token for the API half.
    const token = (
      await engine.stores.tokens.create({ name: 'load-api', role: 'operator', scope: '*' }, 'load-test')
    ).token;
    authorization = `Bearer ${token}`;
    app = buildApi({
      stores: engine.stores,
      syncQueue: engine.queue,
      settings: parseSettings({ SYNC_KEEP_COMPLETED_JOBS: String(KEEP_COMPLETED) }),
      authentication: { tokens: engine.stores.tokens },
      rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
      // The readiness budget a deployment on FerretDB with two cores sets: under a burst of 75 requests
      // its ping can take longer than the 1 s default, and the API then rightly answers 503 (seen at a
      // machine load of 14); what this test checks is that no request is lost or recorded twice.
      serviceTimeoutMs: 10_000,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
    await engine?.close();
  });

  const requestSync = async (tenantId: string) => {
    const response = await fetch(`${base}/tenants/${tenantId}/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ kinds: KINDS }),
    });
    expect({ status: response.status, body: response.status === 202 ? '' : await response.text() }).toEqual({
      status: 202,
      body: '',
    });
    return (await response.json()) as { jobId: string; outcome: string; runId: string };
  };
  const inChunks = async <T>(items: T[], size: number, each: (item: T) => Promise<unknown>) => {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
  };

  it('syncs every tenant once per request burst, loses no job and records every request once', async () => {
    const loadEnv = {
      SYNC_WORKER_CONCURRENCY: '3',
      SYNC_LOCK_DURATION_MS: '30000',
      SYNC_LEASE_TTL_MS: '30000',
      MONGODB_SOCKET_TIMEOUT_MS: '15000',
      SYNC_REAPER_INTERVAL_MS: '2000',
    };
    await Promise.all([engine.spawnWorker('load-1', loadEnv), engine.spawnWorker('load-2', loadEnv)]);
    const requests = new Map<string, { outcome: string; runId: string }[]>();
    const note = (tenantId: string, r: { outcome: string; runId: string }) =>
      requests.set(tenantId, [...(requests.get(tenantId) ?? []), r]);

    // All at once: the API half concurrently, the CLI half with one `sync --all`.
    const viaCli = cli(
      engine.env({ M365SYNC_OPERATOR: 'load-cli', SYNC_KEEP_COMPLETED_JOBS: String(KEEP_COMPLETED) }),
      'sync',
      '--all',
      '--hierarchy',
      'load.cli',
      '--kinds',
      KINDS.join(','),
    );
    await inChunks(apiTenants, 50, async (t) => note(t, await requestSync(t)));
    const cliResult = await viaCli;
    expect({ code: cliResult.code, err: cliResult.err }).toEqual({ code: 0, err: '' });
    expect(cliResult.out).toContain(`enqueued ${cliTenants.length} sync(s)`);
    // The CLI's requests, from their records (the CLI prints job ids, not run ids).
    for (const run of await engine.runs.collection.find({ requestedBy: 'load-cli' }).toArray()) {
      note(run.tenantId, { outcome: run.enqueueOutcome ?? 'created', runId: run._id.toHexString() });
    }

    // Bursts of repeated operator requests: one as soon as the work starts, one once a quarter of the
    // tenants are done (then many tenants are running: follow-ups).
    const all = [...apiTenants, ...cliTenants];
    const burst = () =>
      inChunks(all, 25, (t) =>
        Promise.all(Array.from({ length: BURST }, async () => note(t, await requestSync(t)))),
      );
    await burst();
    await eventually(
      async () =>
        (await engine.runs.collection.distinct('tenantId', { status: 'succeeded' })).length >= all.length / 4,
      300_000,
    );
    await burst();

    // Everything ends: no request queued or running, no job waiting.
    await eventually(async () => {
      const open = await engine.runs.collection.countDocuments({ status: { $in: ['queued', 'running'] } });
      const counts = await engine.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return open === 0 && Object.values(counts).every((n) => n === 0);
    }, 600_000);

    // Every request recorded once and terminal; a retried attempt is a record of its own (attempt ≥ 2)
    // of a request's job; at most one run per burst beyond the first; nothing lost, nothing failed.
    const records = await engine.runs.collection.find({ tenantId: { $in: all } }).toArray();
    const requested = [...requests.values()].flat();
    const requestCount = requested.length;
    const requestIds = new Set(requested.map((r) => r.runId));
    expect(requestIds.size).toBe(requestCount);
    const ofRequests = records.filter((r) => requestIds.has(r._id.toHexString()));
    expect(ofRequests).toHaveLength(requestCount);
    const retries = records.filter((r) => !requestIds.has(r._id.toHexString()));
    for (const r of retries) {
      expect(requestIds).toContain(r.jobId);
      expect(r.attempt).toBeGreaterThanOrEqual(2);
    }
    const statuses: Record<string, number> = {};
    for (const r of records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    expect(records.filter((r) => r.error?.code === 'JOB_LOST')).toEqual([]);
    const jobs = new Set(ofRequests.filter((r) => r.status !== 'merged').map((r) => r.jobId));
    for (const jobId of jobs) {
      const attempts = records.filter((r) => r.jobId === jobId);
      // Its last attempt succeeded (an earlier one may have been cancelled or lost its worker, and retried).
      const last = attempts.reduce((a, b) => (b.attempt > a.attempt ? b : a));
      expect({ jobId, last: last.status, error: last.error }).toEqual({
        jobId,
        last: 'succeeded',
        error: undefined,
      });
    }
    for (const t of all) {
      const ran = records.filter((r) => r.tenantId === t && r.status === 'succeeded');
      expect(ran.length).toBeGreaterThanOrEqual(1);
      expect(ran.length).toBeLessThanOrEqual(3); // the first request, and one follow-up per burst at most
    }
    const runIds = new Set(records.map((r) => r._id.toHexString()));
    for (const r of records.filter((m) => m.status === 'merged')) expect(runIds).toContain(r.mergedInto);

    // Every tenant synced: its objects are exactly the data set's, kind by kind.
    // Only the kinds asked for; every other collection of these tenants stays empty.
    const expected = Object.fromEntries(
      Object.entries(expectedIds(engine.sim.dataset())).filter(([kind]) => KINDS.includes(kind)),
    );
    for (const kind of ENTITY_KINDS.filter((k) => (expected[k.kind] ?? []).length > 0)) {
      const perTenant = await engine.mongo.db
        .collection(kind.collection)
        .aggregate<{ _id: string; n: number }>([
          { $match: { tenantId: { $in: all } } },
          { $group: { _id: '$tenantId', n: { $sum: 1 } } },
        ])
        .toArray();
      const counts = new Map(perTenant.map((g) => [g._id, g.n]));
      const wrong = all.filter((t) => counts.get(t) !== expected[kind.kind]!.length);
      const detail = await Promise.all(
        wrong.map(async (t) => ({
          tenant: t,
          stored: counts.get(t) ?? 0,
          expected: expected[kind.kind]!.length,
          runs: (await engine.runs.list({ tenantId: t })).map((r) => ({
            id: r.id,
            status: r.status,
            attempt: r.attempt,
            job: r.jobId,
            error: r.error?.code,
            kind: r.kinds?.[kind.kind],
          })),
        })),
      );
      expect({ kind: kind.kind, wrong: detail }).toEqual({ kind: kind.kind, wrong: [] });
    }
    for (const kind of ENTITY_KINDS.filter((k) => !KINDS.includes(k.kind))) {
      expect(
        await engine.mongo.db.collection(kind.collection).countDocuments({ tenantId: { $in: all } }),
      ).toBe(0);
    }

    // Redis bounded: finished jobs trimmed to the kept number.
    const completed = await engine.queue.getJobCounts('completed', 'failed');
    expect(completed.completed).toBeLessThanOrEqual(KEEP_COMPLETED);
    expect(completed.failed).toBe(0);
    const redis = new Redis(engine.redisUrl);
    let jobKeys = 0;
    let bytes = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${engine.prefix}:tenant-sync:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        if (/:tenant-sync:[0-9a-f]{24}$/.test(key)) jobKeys++;
        bytes += (await redis.memory('USAGE', key)) ?? 0;
      }
    } while (cursor !== '0');
    redis.disconnect();
    expect(jobKeys).toBeLessThanOrEqual(KEEP_COMPLETED);

    recordFault({
      id: 'load-many-tenants',
      fault: `${all.length} tenants enqueued at once (half API, half CLI) plus two bursts of ${BURST} repeated requests per tenant while they ran`,
      times: 1,
      engine: `${requestCount} requests: ${statuses.succeeded} runs succeeded, ${statuses.merged} requests merged into them (at most one follow-up per burst), ${retries.length} attempt(s) retried; every tenant synced; ${jobKeys} job hashes and ${Math.round(bytes / 1024)} KiB left in Redis (finished jobs trimmed to ${KEEP_COMPLETED})`,
      lost: 'nothing',
      file: 'test/faults/load.test.ts',
    });
  });
});
