/**
 * The engine on a real Redis Cluster (issue #22 item 1): a cluster of this machine's redis-server
 * (three masters with a replica each, free loopback ports, scripts/redis-cluster.sh), two real
 * `m365sync worker` processes on it (REDIS_CLUSTER_NODES: queue, trigger worker, Bottleneck limiter,
 * app budget, shell and session slots, shell ledger) and the simulated tenant. Full pulls, a schedule
 * firing, an operator sync and a cancel run on it; then the master that holds the queues' slot is
 * killed mid-run (SIGKILL; its replica is promoted after `cluster-node-timeout`, 1 s here): no request
 * is lost (every request's record ends, the run completes or is re-run), the tenant's objects match the
 * simulated tenant exactly, and every run record tells the truth.
 *
 * In `npm run test:faults` (it kills a Redis node). Skipped, saying so, when redis-server or redis-cli
 * is missing. Every redis-server it starts is stopped in afterAll, by the pid files of its own
 * directory, whatever happened.
 *
 * To see why a case failed: `M365SYNC_CLUSTER_TEST_OUTPUT=/tmp/w` writes each worker's output to
 * /tmp/w.0 and /tmp/w.1, and `M365SYNC_CLUSTER_TEST_LOG_LEVEL=info` (default warn) says more in it.
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cluster } from 'ioredis';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { allowSimulatedTenant } from '../../cli/in-process.js';
import { hashTagOf } from '../../domain/redis-keys.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { cancelRun } from '../../operations/cancel-run.js';
import { createRedisClient, redisSettings, type RedisSettings } from '../../queues/connection.js';
import { LeaderLock } from '../../queues/leader-lock.js';
import { setSchedule } from '../../operations/schedules.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { startSimulatedTenant, type SimulatedTenant } from '../../simulators/m365.js';
import { expectDataAfter, expectedIds, expectRunsTruthful } from '../faults/expected-data.js';
import { root, spawnTs } from '../support/child-process.js';
import { freePort, portIsFree } from '../../scripts/free-port.js';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';
import { until } from '../ops/support/processes.js';
import { enqueueRecorded } from '../../operations/index.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

const run = promisify(execFile);
const haveRedis = ['redis-server', 'redis-cli'].every(
  (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0,
);
if (!haveRedis)
  console.warn('test/cluster: SKIPPED: redis-server and redis-cli are needed (apt-get install redis-server)');

const script = join(root, 'scripts/redis-cluster.sh');
const KEY = keyEntry('cluster');

/** A port free now whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
}

let dir = '';
const ports: number[] = [];
let sim: SimulatedTenant | undefined;
let mongo: TestMongo | undefined;
let stores: Stores;
let runs: SyncRunStore;
let settings: RedisSettings;
let queue: Queue<SyncJobData, unknown, string> | undefined;
let triggers: Queue | undefined;
/** What the schedule operations use here: the stores, the trigger queue on the cluster, the defaults. */
const scheduleDeps = () => ({ stores, triggers: triggers!, settings: DEFAULT_SETTINGS });
interface EngineProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}
const workers: EngineProcess[] = [];
/** The API and scheduler processes, stopped by their case (and by afterAll if it failed). */
const others: EngineProcess[] = [];
/** What every process of the engine here is started with (set in beforeAll: the cluster's nodes). */
let processEnv: NodeJS.ProcessEnv = {};

/**
 * `m365sync <command>` run by Node.js itself (no tsx wrapper: a SIGKILL reaches the process, never
 * orphaning it), with exactly the given environment.
 */
function startProcess(command: 'worker' | 'api' | 'scheduler', env: NodeJS.ProcessEnv): EngineProcess {
  const child = spawnTs(join(root, 'cli/cli.ts'), [command], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}
let tenantId = '';

/**
 * SIGTERM, then SIGKILL if it has not ended within 10 s: a close that cannot hang the suite. Says
 * whether it ended by itself (the last case checks that workers that lived through the failover do).
 */
async function stopProcess(p: EngineProcess): Promise<'stopped' | 'killed' | 'ended before'> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return 'ended before';
  p.child.kill('SIGTERM');
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    p.child.kill('SIGKILL');
  }, 10_000);
  await p.exited;
  clearTimeout(timer);
  return killed ? 'killed' : 'stopped';
}

/** The run records of the tenant, newest last. */
async function tenantRuns(): Promise<SyncRun[]> {
  const docs = await mongo!.db.collection('sync_runs').find({ tenantId }).sort({ _id: 1 }).toArray();
  return docs.map((d) => ({ ...d, id: String(d._id) }) as unknown as SyncRun);
}

const ENDED = ['succeeded', 'partial', 'failed', 'needs_review', 'cancelled', 'merged'];

/** Waits until the run record `runId` has ended; returns it. */
async function ended(runId: string, timeoutMs = 90_000): Promise<SyncRun> {
  return until(
    `run ${runId} to end`,
    async () => {
      const record = await runs.get(runId);
      return record && ENDED.includes(record.status) ? record : undefined;
    },
    timeoutMs,
  );
}

/** The run that did the work of a request: itself, or the run it was merged into. */
async function workOf(runId: string): Promise<SyncRun> {
  const record = await ended(runId);
  return record.status === 'merged' && record.mergedInto ? workOf(record.mergedInto) : record;
}

async function request(trigger: 'operator' | 'cli', requestedBy: string): Promise<string> {
  const { runId } = await enqueueRecorded(
    { queue: queue!, stores: { runs }, settings: DEFAULT_SETTINGS },
    { request: { tenantId, trigger, requestedBy }, hierarchy: '' },
  );
  return runId!;
}

describe.skipIf(!haveRedis)('the engine on Redis Cluster', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'm365sync-h-cluster-'));
    const taken = new Set<number>();
    for (let i = 0; i < 6; i++) ports.push(await freeClusterPort(taken));
    const started = await run('bash', [script, 'start', dir, ...ports.map(String)], {
      env: { ...process.env, M365SYNC_REDIS_CLUSTER_NODE_TIMEOUT_MS: '1000' },
      timeout: 60_000,
    });
    const tCluster = Date.now() - t0;
    const nodes = /REDIS_CLUSTER_NODES=(\S+)/.exec(started.stdout)![1]!;
    const prefix = `h-cluster-${process.pid}`;
    settings = redisSettings({
      REDIS_URL: 'redis://127.0.0.1:1', // not used: the cluster's nodes are
      M365SYNC_QUEUE_PREFIX: prefix,
      REDIS_CLUSTER_NODES: nodes,
    });
    expect(settings.prefix).toBe(`{${prefix}}`); // wrapped: one hash slot for the queues

    // 60 users; PowerShell kinds paced so that a run lasts seconds (time to cancel it, kill a master).
    sim = await startSimulatedTenant({ dataset: { seed: 22, users: 30 }, objectsPerSecond: 150 });
    mongo = await testMongo('cluster');
    stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: KEY }));
    runs = new SyncRunStore(mongo.db);
    await allowSimulatedTenant(stores, sim);
    tenantId = (await stores.tenants.add(sim.tenantInput)).id;
    const caFile = join(dir, 'graph-ca.pem');
    await writeFile(caFile, sim.ca);

    queue = createSyncQueue(settings);
    triggers = createTriggerQueue(settings);
    processEnv = {
      NODE_ENV: 'test',
      MONGODB_URI: testEnv().mongoUri,
      M365SYNC_DB: mongo.db.databaseName,
      M365SYNC_ENCRYPTION_KEYS: KEY,
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_CLUSTER_NODES: nodes,
      M365SYNC_QUEUE_PREFIX: prefix,
      M365SYNC_GRAPH_CA_FILE: caFile,
      M365SYNC_WINRM_SCHEME: 'http',
      M365SYNC_METRICS_PORT: '0',
      SYNC_WORKER_CONCURRENCY: '1',
      // A job whose lock is lost in the failover is found stalled and run again within seconds.
      SYNC_LOCK_DURATION_MS: '5000',
      SYNC_STALLED_INTERVAL_MS: '2000',
      SYNC_LEASE_TTL_MS: '10000',
      LOG_LEVEL: process.env.M365SYNC_CLUSTER_TEST_LOG_LEVEL ?? 'warn',
    };
    for (let i = 0; i < 2; i++) workers.push(startProcess('worker', processEnv));
    // Ready when both are connected to the queue (BullMQ names its connections; CLIENT LIST per node).
    const tWorkers = Date.now();
    await until('both workers to connect to the cluster', async () =>
      (await queue!.getWorkers()).length >= 2 ? true : undefined,
    );
    console.info(
      `test/cluster: set-up ${Date.now() - t0} ms (the cluster ${tCluster} ms, workers ready in ${Date.now() - tWorkers} ms)`,
    );
  }, 120_000);

  afterAll(async () => {
    const t0 = Date.now();
    await Promise.all([...workers, ...others].map(stopProcess));
    const tWorkers = Date.now() - t0;
    if (process.env.M365SYNC_CLUSTER_TEST_OUTPUT)
      for (const [i, w] of workers.entries())
        await writeFile(`${process.env.M365SYNC_CLUSTER_TEST_OUTPUT}.${i}`, w.output());
    await Promise.allSettled([queue?.close(), triggers?.close()]);
    // Every node this suite started, by the pid files in its own directory, even after a failure.
    if (dir) await run('bash', [script, 'stop', dir], { timeout: 30_000 }).catch(() => undefined);
    await sim?.close();
    await mongo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    console.info(`test/cluster: tear-down ${Date.now() - t0} ms (workers stopped in ${tWorkers} ms)`);
  }, 60_000);

  it('runs full pulls: every kind matches the simulated tenant, the limiter keys spread by tenant', async () => {
    const first = await workOf(await request('cli', 'cluster-test'));
    expect(first.status, JSON.stringify(first.error)).toBe('succeeded');
    await expectDataAfter(mongo!.db, tenantId, first, expectedIds(sim!.dataset()), {});

    // The Graph limiter's keys carry the tenant as their hash tag (Bottleneck's scripts need one slot).
    const client = createRedisClient(settings) as Cluster;
    try {
      await until('the client to know the cluster', async () =>
        client.status === 'ready' ? true : undefined,
      );
      const keys = (
        await Promise.all(client.nodes('master').map((node) => node.keys(`b_h-cluster-${process.pid}:*`)))
      ).flat();
      expect(keys.length).toBeGreaterThan(0);
      // Tagged by the tenant's directory id (the one Graph limits): its own slot, whatever the prefix.
      expect(new Set(keys.map(hashTagOf))).toEqual(new Set([sim!.dataset().tenantId]));
    } finally {
      client.disconnect();
    }
  });

  it('fires a schedule (job scheduler on the trigger queue, the trigger worker enqueues)', async () => {
    const before = (await tenantRuns()).length;
    await setSchedule(scheduleDeps(), {
      tenantId,
      schedule: { pattern: '*/2 * * * * *' },
      updatedBy: 'test',
    });
    const scheduled = await until('a scheduled run', async () =>
      (await tenantRuns()).slice(before).find((r) => r.trigger === 'schedule'),
    );
    await setSchedule(scheduleDeps(), { tenantId, schedule: { enabled: false }, updatedBy: 'test' });
    const done = await workOf(scheduled.id);
    expect(done.status).toBe('succeeded');
  });

  it('runs an operator sync and cancels a running one', async () => {
    const operator = await workOf(await request('operator', 'ops@example'));
    expect(operator.status).toBe('succeeded');

    // Held on a minute's Retry-After for /users, so the run is still under way whenever the cancel is
    // read (the keeper reads it at its next tick): a run left to its own pace may finish first.
    const throttled = () => sim!.graph.requests.filter((r) => r.fault === 'throttle').length;
    const before = throttled();
    sim!.graph.setFaults([{ kind: 'throttle', path: '/users', times: 1, retryAfter: { seconds: 60 } }]);
    const runId = await request('operator', 'ops@example');
    await until('the run to wait on Graph’s Retry-After', async () =>
      (await runs.get(runId))?.status === 'running' && throttled() > before ? true : undefined,
    );
    expect((await cancelRun({ queue: queue!, stores: { runs } }, { runId, by: 'ops@example' })).outcome).toBe(
      'cancel-requested',
    );
    const cancelled = await ended(runId);
    expect(cancelled.status).toBe('cancelled');
  });

  it('runs the API and the scheduler as processes on the cluster: a sync asked over HTTP, a schedule its leader keeps', async () => {
    const token = randomBytes(32).toString('base64url'); // the bootstrap token: at least 32 characters
    const apiPort = await freePort();
    const api = startProcess('api', {
      ...processEnv,
      M365SYNC_API_PORT: String(apiPort),
      M365SYNC_API_TOKEN: token,
    });
    others.push(api);
    const base = `http://127.0.0.1:${apiPort}`;
    const call = (method: string, path: string) =>
      fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
    await until('the API to answer', async () =>
      (await call('GET', '/readyz').catch(() => undefined))?.ok ? true : undefined,
    );
    const asked = await call('POST', `/tenants/${tenantId}/sync`);
    expect(asked.status, api.output()).toBe(202);
    const { runId } = (await asked.json()) as { runId: string };
    expect((await workOf(runId)).status).toBe('succeeded');
    const shown = (await (await call('GET', `/runs/${runId}`)).json()) as { status: string };
    expect(shown.status).toBe('succeeded');

    // A schedule stored but not yet kept by any job scheduler: the scheduler's leader reconciles it
    // when it starts (its lock and the trigger queue on the cluster), and the workers' trigger worker
    // enqueues its runs.
    const before = (await tenantRuns()).length;
    await stores.schedules.set(tenantId, { enabled: true, pattern: '*/2 * * * * *' }, 'test');
    const scheduler = startProcess('scheduler', { ...processEnv, SCHEDULER_RECONCILE_MS: '1000' });
    others.push(scheduler);
    try {
      const scheduled = await until('a run of the schedule the scheduler keeps', async () =>
        (await tenantRuns()).slice(before).find((r) => r.trigger === 'schedule'),
      );
      expect((await workOf(scheduled.id)).status).toBe('succeeded');
    } finally {
      await setSchedule(scheduleDeps(), { tenantId, schedule: { enabled: false }, updatedBy: 'test' });
    }
    expect(await Promise.all([api, scheduler].map(stopProcess))).toEqual(['stopped', 'stopped']);
    for (const p of [api, scheduler]) expect(p.output()).not.toContain('Unhandled error event');
  });

  it('loses no request and leaves no record untrue when the queues’ master is killed mid-run', async () => {
    // The master that holds the queues' hash slot now.
    const client = createRedisClient(settings) as Cluster;
    let victim: number;
    try {
      const slot = Number(await client.cluster('KEYSLOT', settings.prefix));
      const shards = await client.cluster('SLOTS');
      victim = shards.find(([from, to]) => slot >= from && slot <= to)![2]![1];
    } finally {
      client.disconnect();
    }
    const pid = Number((await readFile(join(dir, String(victim), 'redis.pid'), 'utf8')).trim());

    const running = await request('operator', 'ops@example');
    await until('the run to be under way', async () => {
      const record = await runs.get(running);
      return record?.status === 'running' && Object.keys(record.kinds ?? {}).length > 0 ? true : undefined;
    });
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    // Mid-run: the run had not ended when its queue's master died (else this would test nothing).
    expect((await runs.get(running))?.status).toBe('running');
    // A request made while the cluster fails over: it waits for the new master, then is queued.
    const during = await request('operator', 'ops@example');
    // The replica is promoted: the other nodes agree on a whole cluster again.
    await until(
      'the cluster to fail over',
      async () => {
        const others = ports.filter((p) => p !== victim);
        const states = await Promise.all(
          others.map((p) =>
            run('redis-cli', ['-p', String(p), 'cluster', 'info']).then(
              (r) => /cluster_state:ok/.test(r.stdout),
              () => false,
            ),
          ),
        );
        return states.every(Boolean) ? true : undefined;
      },
      30_000,
    );
    const failoverMs = Date.now() - killedAt;
    const after = await request('operator', 'ops@example');

    // No request lost: each one's work ended succeeded, or (the run under way when its master died)
    // was run again by its job, and that attempt succeeded.
    for (const runId of [running, during, after]) {
      const work = await workOf(runId);
      if (work.status === 'succeeded') continue;
      const retried = await until(`a later attempt of job ${work.jobId}`, async () =>
        (await tenantRuns()).find(
          (r) => r.jobId === work.jobId && r.attempt > work.attempt && r.status === 'succeeded',
        ),
      );
      expect(retried.status).toBe('succeeded');
    }
    // The last request's work ran after the failover, from start to end: the tenant is exact.
    const last = await workOf(after);
    expect(last.status).toBe('succeeded');
    await expectDataAfter(mongo!.db, tenantId, last, expectedIds(sim!.dataset()), {});
    // Every record of the tenant ended and says what its kinds say.
    await until('every run record to end', async () =>
      (await tenantRuns()).every((r) => ENDED.includes(r.status)) ? true : undefined,
    );
    const records = await expectRunsTruthful(mongo!.db, tenantId);
    // What happened, for docs/SCALING.md (the failover time, and whether the run under way survived).
    const of = (id: string) => records.find((r) => r.id === id);
    console.info(
      `test/cluster: failover ${failoverMs} ms; the run under way ${of(running)?.status} (attempt ${of(running)?.attempt}), ` +
        `the request during failover ${of(during)?.status}, after ${of(after)?.status}; ` +
        `${records.length} records (trigger/status/attempt/seconds): ` +
        records
          .map(
            (r) =>
              `${r.trigger}/${r.status}/${r.attempt}/${r.startedAt && r.endedAt ? ((+r.endedAt - +r.startedAt) / 1000).toFixed(1) : '-'}`,
          )
          .join(' '),
    );
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    for (const w of workers) expect(w.output()).not.toContain('Unhandled error event');
  });

  it('elects one scheduler leader on the cluster (the leader lock)', async () => {
    const a = createRedisClient(settings);
    const b = createRedisClient(settings);
    try {
      const key = `${settings.prefix}:scheduler:leader`;
      const one = new LeaderLock(a, key, 'one', 5000);
      const two = new LeaderLock(b, key, 'two', 5000);
      expect(await one.acquireOrRenew()).toBe(true);
      expect(await two.acquireOrRenew()).toBe(false);
      await one.release();
      expect(await two.acquireOrRenew()).toBe(true);
      expect(await one.leader()).toBe('two');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('stops each worker that lived through the failover by itself within 10 s of SIGTERM', async () => {
    // With no run to finish (a run handed back in the failover may be retried late): a worker with an
    // active run waits for it up to its shutdown grace time, which is not what this checks.
    await until('the queue to have no job left', async () => {
      const counts = await queue!.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0) ? true : undefined;
    });
    expect(await Promise.all(workers.map(stopProcess))).toEqual(workers.map(() => 'stopped'));
  });
});
