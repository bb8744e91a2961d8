/**
 * Leftover WinRM shells, with the real `m365sync worker` process: a worker SIGKILLed mid-script leaves
 * its shell open on the PowerShell proxy; the next worker to start deletes it (found in the shell
 * ledger in Redis) before taking jobs, then finishes the job; a worker stopped with SIGTERM mid-script
 * leaves no shell open. MongoDB ends up with exactly the simulated Teams users.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { openStores } from '../../connectors/mongo/stores.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { generateDataset, teamsUsers } from '../../simulators/dataset.js';
import { createTenantScriptHost } from '../../simulators/powershell/tenant-host.js';
import { startWinRmSimulator, type WinRmSimulator } from '../../simulators/winrm/server.js';
import { printed, spawnTs } from '../support/child-process.js';
import { testEnv } from '../support/env.js';
import { validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually } from '../workers/support/harness.js';

const CLI = fileURLToPath(new URL('../../cli/cli.ts', import.meta.url));
const PROXY = { username: 'svc-leftover', password: 'Leftover-Proxy-P4ss!' };
const TEAMS = { username: 'teams-admin@contoso.example', password: 'Teams-P4ss!' };

describe('WinRM shells of stopped and killed workers', { timeout: 120_000 }, () => {
  const dataset = generateDataset({ seed: 41, users: 24 });
  const keys = keyEntry('leftovers');
  let sim: WinRmSimulator;
  let mongo: TestMongo;
  let redis: TestRedis;
  let queue: Queue<SyncJobData, unknown, string>;
  let tenantId: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    sim = await startWinRmSimulator({
      accounts: [PROXY],
      // Slow output (one object every 150 ms), so a worker can be stopped in the middle of the script.
      scriptHost: createTenantScriptHost({ dataset, teamsAccounts: [TEAMS], latencyMs: 150 }),
    });
    mongo = await testMongo('leftovers');
    redis = await testRedis('leftovers');
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keys }));
    // The simulated proxy listens on loopback: an administrator's allow-list entry lets it in.
    await stores.destinations.allow('powershell', '127.0.0.1');
    tenantId = (
      await stores.tenants.add(
        validTenantInput({
          'Microsoft 365': { tenant_id: dataset.tenantId },
          'Microsoft Teams Powershell': {
            hostName: `127.0.0.1:${sim.port}`,
            proxyUsername: PROXY.username,
            proxyPassword: PROXY.password,
          },
          'Microsoft Teams': { tenantUsername: TEAMS.username, tenantPassword: TEAMS.password },
        }),
      )
    ).id;
  });

  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await queue.close();
    await sim.close();
    await redis.close();
    await mongo.close();
  });

  /** The real worker command in its own process; resolves once it takes jobs. */
  function startWorkerProcess(): Promise<ChildProcess> {
    const child = spawnTs(CLI, ['worker'], {
      env: {
        ...process.env,
        MONGODB_URI: testEnv().mongoUri,
        M365SYNC_DB: mongo.db.databaseName,
        [ENCRYPTION_KEYS_VARIABLE]: keys,
        REDIS_URL: redis.url,
        M365SYNC_QUEUE_PREFIX: redis.prefix,
        M365SYNC_WINRM_SCHEME: 'http',
        M365SYNC_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        SYNC_LOCK_DURATION_MS: '2000',
        SYNC_STALLED_INTERVAL_MS: '1000',
        SYNC_LEASE_TTL_MS: '2000',
        SYNC_LEASE_CLOCK_SKEW_MS: '0',
        SYNC_LEASE_RETRY_MS: '300',
        SYNC_SHUTDOWN_GRACE_MS: '300',
        SYNC_SHELL_LEDGER_ALIVE_MS: '1500',
      },
      // The worker logs to stderr (observability/logger.ts).
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    return printed(child, 'stderr', 'sync worker started', 'the worker').then(() => child);
  }

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  /** Waits until a Teams script is running on the proxy and its output is being read. */
  async function scriptRunning(): Promise<string> {
    const receivesBefore = sim.counters.receives;
    await eventually(
      async () => sim.counters.openShells === 1 && sim.counters.receives > receivesBefore + 1,
      20_000,
    );
    return sim.listShells()[0]!.id;
  }

  async function instancesAlive(): Promise<number> {
    const instances = await redis.redis.smembers(`${redis.prefix}:winrm-shells:instances`);
    let alive = 0;
    for (const id of instances) alive += await redis.redis.exists(`${redis.prefix}:winrm-shells:${id}:alive`);
    return alive;
  }

  it('deletes the shell of a worker killed mid-script when the next worker starts, and finishes the run', async () => {
    const first = await startWorkerProcess();
    const { jobId } = await enqueueUnrecorded(queue, {
      tenantId,
      trigger: 'cli',
      requestedBy: 'fault-suite',
      kinds: ['teams_users'],
    });
    const leftover = await scriptRunning();
    first.kill('SIGKILL');
    await exited(first);
    // The killed worker could not clean up: its shell is still open on the proxy.
    expect(sim.listShells().map((s) => s.id)).toEqual([leftover]);
    // It is no longer refreshed in the ledger: a new worker may delete its shells.
    await eventually(async () => (await instancesAlive()) === 0, 10_000);

    const second = await startWorkerProcess();
    const deletes = sim.actions.filter((a) => a.action === 'Delete' && a.shellId === leftover);
    expect(deletes).toHaveLength(1);
    expect(sim.listShells().map((s) => s.id)).not.toContain(leftover);
    expect(sim.counters.shellsIdleTimedOut).toBe(0);

    // The job goes on to completion on the new worker, and MongoDB holds exactly the data set.
    const runs = new SyncRunStore(mongo.db);
    const finalRun = await eventually(async () => {
      const list = await runs.list({ jobId });
      return list.find((r) => r.status === 'succeeded');
    }, 60_000);
    expect(finalRun.worker).not.toBe(undefined);
    const stored = await mongo.db.collection('teams_users').find({ tenantId }).toArray();
    const expected = teamsUsers(dataset)
      .map((u) => String(u.Identity))
      .sort();
    expect(stored.map((d) => String(d.externalId)).sort()).toEqual(expected);
    // Every run of the job ended: none is left running or queued.
    expect((await runs.list({ jobId })).every((r) => r.status !== 'running' && r.status !== 'queued')).toBe(
      true,
    );
    await eventually(async () => sim.counters.openShells === 0, 10_000);

    // SIGTERM mid-script: the worker stops and leaves no shell behind, and nothing in the ledger.
    await enqueueUnrecorded(queue, {
      tenantId,
      trigger: 'cli',
      requestedBy: 'fault-suite',
      kinds: ['teams_users'],
    });
    await scriptRunning();
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(sim.counters.openShells).toBe(0);
    expect(sim.listShells()).toEqual([]);
    expect(await redis.redis.smembers(`${redis.prefix}:winrm-shells:instances`)).toEqual([]);
  });
});
