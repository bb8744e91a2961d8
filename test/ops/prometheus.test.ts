/**
 * Metrics checked the way an operator's Prometheus sees them: Debian's Prometheus on loopback scrapes
 * a real worker, scheduler and API (child processes of the `m365sync` CLI) while the worker runs a
 * full pull of a simulated tenant; the series are read back through Prometheus's HTTP API, and each
 * process's exposition passes `promtool check metrics`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { createSyncQueue, waitForRun } from '../../queues/sync-queue.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { openStores } from '../../connectors/mongo/stores.js';
import { startSimulatedTenant, type SimulatedTenant } from '../../simulators/m365.js';
import { allowSimulatedTenant } from '../../cli/in-process.js';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { freePort } from '../../scripts/free-port.js';
import { start, until, type RunningProcess } from './support/processes.js';

/** prom-client's default metrics that promtool flags; nothing else may warn. */
const ALLOWED_WARNINGS = [
  // prom-client's default gauges, named with a counter's `_total` suffix.
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let sim: SimulatedTenant;
let mongo: TestMongo;
let redis: TestRedis;
let dir: string;
const processes: RunningProcess[] = [];
let prometheus: RunningProcess;
let promUrl: string;
const ports = { worker: 0, scheduler: 0, api: 0 };
let env: NodeJS.ProcessEnv;
let tenantId: string;

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** Polls Prometheus until the query returns series (Prometheus scrapes every second here). */
async function series(expr: string) {
  return until(`Prometheus to have ${expr}`, async () => {
    const result = await query(expr);
    return result.length > 0 ? result : undefined;
  });
}

beforeAll(async () => {
  sim = await startSimulatedTenant({ dataset: { users: 40, seed: 7 } });
  mongo = await testMongo('prometheus');
  redis = await testRedis('prometheus');
  dir = await mkdtemp(join(tmpdir(), 'm365sync-prometheus-'));
  const keys = keyEntry('prom');
  const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keys }));
  await allowSimulatedTenant(stores, sim);
  tenantId = (await stores.tenants.add(sim.tenantInput)).id;
  // A second tenant, added three days ago and never synced: stale.
  await stores.tenants.add({ ...sim.tenantInput, Tenant: { name: 'Never Synced' } });
  await mongo.db
    .collection('tenants')
    .updateOne(
      { 'Tenant.name': 'Never Synced' },
      { $set: { createdAt: new Date(Date.now() - 72 * 3600_000) } },
    );
  await writeFile(join(dir, 'graph-ca.pem'), sim.ca);

  ports.worker = await freePort();
  ports.scheduler = await freePort();
  ports.api = await freePort();
  env = {
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    [ENCRYPTION_KEYS_VARIABLE]: keys,
    REDIS_URL: redis.url,
    M365SYNC_QUEUE_PREFIX: redis.prefix,
    LOG_LEVEL: 'warn',
  };
  processes.push(
    start(['worker'], {
      ...env,
      M365SYNC_METRICS_PORT: String(ports.worker),
      M365SYNC_GRAPH_CA_FILE: join(dir, 'graph-ca.pem'),
      M365SYNC_WINRM_SCHEME: 'http',
      SYNC_WORKER_CONCURRENCY: '1',
    }),
    start(['scheduler'], {
      ...env,
      M365SYNC_METRICS_PORT: String(ports.scheduler),
      M365SYNC_STALENESS_REFRESH_MS: '0',
    }),
    start(['api', '--host', '127.0.0.1', '--port', String(ports.api)], {
      ...env,
      M365SYNC_API_TOKEN: 'prometheus-test-bootstrap-token-0123456789',
    }),
  );

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const job = (name: string, port: number) => ({
    job_name: name,
    scrape_interval: '1s',
    static_configs: [{ targets: [`127.0.0.1:${port}`] }],
  });
  await writeFile(
    join(dir, 'prometheus.yml'),
    toYaml({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [
        job('m365sync-worker', ports.worker),
        job('m365sync-scheduler', ports.scheduler),
        job('m365sync-api', ports.api),
      ],
    }),
  );
  prometheus = start(
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    {},
    'prometheus',
  );
  // Every target up: the three processes serve /metrics.
  await until(
    'the three targets up',
    async () => {
      const up = await query('up == 1');
      return up.length === 3 ? up : undefined;
    },
    90_000,
  ).catch(async (error: Error) => {
    // Say why: Prometheus's own view of each target, and what the processes printed.
    let targets = await fetch(`${promUrl}/api/v1/targets`).then((r) => r.text(), String);
    const outputs = processes.map((p) => p.output().slice(-1500)).join('\n---\n');
    for (const [name, port] of Object.entries(ports)) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      if (response?.status !== 200) targets += `\n${name}: ${response?.status} ${await response?.text()}`;
    }
    throw new Error(`${error.message}\n${targets}\n${outputs}`);
  });
}, 180_000);

afterAll(async () => {
  await Promise.all([...processes, prometheus].filter(Boolean).map((p) => p.stop()));
  await sim?.close();
  await redis?.close();
  await mongo?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('metrics scraped by Prometheus', () => {
  it('every process reports its build, labelled by process (not `service`)', async () => {
    const info = await series('m365sync_build_info');
    expect(info.map((s) => s.metric.m365sync_process).sort()).toEqual(['api', 'scheduler', 'worker']);
    for (const s of info) expect(s.metric.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await query('count({service!=""})')).toEqual([]);
  });

  it('a full pull shows up in run, kind, Graph, proxy, queue and staleness series', async () => {
    const queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    try {
      const { jobId } = await enqueueUnrecorded(queue, {
        tenantId,
        trigger: 'cli',
        requestedBy: 'prometheus test',
      });
      const end = await waitForRun(queue, jobId, { tenantId, pollMs: 200, timeoutMs: 120_000 });
      expect(end.state).toBe('completed');
    } finally {
      await queue.close();
    }
    const [runs] = await series('m365sync_sync_runs_total{status="succeeded",code="none"} >= 1');
    expect(runs!.metric.m365sync_process).toBe('worker');
    await series('m365sync_sync_kind_duration_seconds_count{kind="users",status="succeeded"} >= 1');
    await series('m365sync_sync_kind_duration_seconds_count{kind="phone_numbers",status="succeeded"} >= 1');
    await series('m365sync_graph_requests_total{endpoint="/users"} > 0');
    // Proxies aggregated: no host:port label unless M365SYNC_METRICS_PROXY_LABEL=true.
    const proxies = await series('m365sync_powershell_proxy_commands_total > 0');
    expect(proxies.map((s) => s.metric.proxy)).toEqual(['all']);
    for (const name of [
      'm365sync_sync_lease_conflicts_total',
      'm365sync_sync_retries_total',
      'm365sync_sync_stalled_jobs_total',
    ])
      await series(`${name}{m365sync_process="worker"}`);

    // Cluster series from the scheduler leader only.
    const [completed] = await series('m365sync_queue_jobs{queue="tenant-sync",state="completed"} >= 1');
    expect(completed!.metric.m365sync_process).toBe('scheduler');
    expect((await series('m365sync_scheduler_leader == 1')).length).toBe(1);
    const synced = (
      await series(
        'm365sync_tenant_last_success_age_seconds{tenant="demo.provider.contoso/Contoso Simulated"} < 600',
      )
    )[0]!;
    expect(synced.metric.m365sync_process).toBe('scheduler');
    const stale = await series(
      'm365sync_tenant_last_success_age_seconds{tenant="demo.provider.contoso/Never Synced"}',
    );
    expect(Number(stale[0]!.value[1])).toBeGreaterThan(36 * 3600);
    const [count] = await series('m365sync_tenants_stale');
    expect(count!.value[1]).toBe('1');
    expect((await series('m365sync_tenants'))[0]!.value[1]).toBe('2');

    const recorded = await new SyncRunStore(mongo.db).list({ tenantId, limit: 5 });
    expect(recorded.some((r) => r.status === 'succeeded')).toBe(true);
  });

  it("each process's exposition passes promtool check metrics (only prom-client's named defaults warn)", async () => {
    for (const [name, port] of Object.entries(ports)) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const checked = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.once('error', reject);
        child.once('exit', (code) => resolve({ code, out }));
        child.stdin.end(text);
      });
      const problems = checked.out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .filter((l) => !ALLOWED_WARNINGS.some((allowed) => l.startsWith(`${allowed} `)));
      expect(problems, `${name}: ${checked.out}`).toEqual([]);
    }
  });

  it('a second worker on a metrics port in use stops with a clear error, not a crash', async () => {
    const second = start(['worker'], { ...env, M365SYNC_METRICS_PORT: String(ports.worker) });
    processes.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(
      `error (CONFIGURATION): Metrics port ${ports.worker} on 127.0.0.1 is already in use`,
    );
    expect(second.output()).not.toContain('EADDRINUSE');
  });
});
