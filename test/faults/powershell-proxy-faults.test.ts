/**
 * PowerShell proxy faults during full pulls, with the real engine (worker, queue, MongoDB, Redis) and
 * two simulated proxies on loopback: a proxy that goes down before and during a script, a WinRM
 * connection dropped mid-Receive, a proxy whose WinRM service restarts mid-script, and "shell not
 * found" before any output. Each run ends with MongoDB compared with the data set, kind by kind, and
 * every run record terminal and truthful; no shell is left open on either proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncRun } from '../../domain/sync-run.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { changeDataset, type Dataset } from '../../simulators/dataset.js';
import type { WinRmSimulator } from '../../simulators/winrm/server.js';
import { startEngine, type Engine } from '../e2e/support/engine.js';
import { eventually } from '../workers/support/harness.js';
import { expectDataAfter, expectedIds, expectRunsTruthful } from './expected-data.js';

/** Objects come one every 10 ms: a Teams script runs for seconds, long enough to break it mid-way. */
const SLOW = { latencyMs: 10 };

describe('PowerShell proxy faults', { timeout: 180_000 }, () => {
  let engine: Engine;
  let tenantId: string;
  let night = 0;

  beforeAll(async () => {
    engine = await startEngine('psfaults', {
      dataset: { seed: 5, users: 40 },
      // A failed proxy is probed back into service within a second or two.
      winrm: { coolDownMs: 1000, probeIntervalMs: 200 },
    });
    tenantId = (await engine.stores.tenants.add(engine.sim.tenantInput)).id;
    const first = await engine.sync(tenantId, 'baseline');
    expect(first.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, first, expectedIds(engine.sim.dataset()), {});
  }, 120_000);

  afterAll(async () => {
    await expectRunsTruthful(engine.mongo.db, tenantId);
    await engine?.close();
  });

  /** The tenant changes overnight: users leave and join, policies go. */
  function nextNight(): { yesterday: Dataset; today: Dataset } {
    night++;
    const yesterday = engine.sim.dataset();
    const today = changeDataset(yesterday, { removeUsers: 2, addUsers: 2, removePolicies: 1 }, 100 + night);
    engine.sim.setDataset(today);
    return { yesterday, today };
  }

  const proxies = () => engine.sim.proxies;

  /** Starts a sync and waits until a proxy streams Teams output for it; returns that proxy. */
  async function syncUntilStreaming(
    label: string,
  ): Promise<{ proxy: WinRmSimulator; done: Promise<SyncRun> }> {
    const before = proxies().map((p) => p.counters.outputBytes);
    const { jobId } = await enqueueUnrecorded(engine.queue, { tenantId, trigger: 'cli', requestedBy: label });
    const done = engine.runOf(jobId, tenantId).then((r) => r.run);
    const proxy = await eventually(async () =>
      proxies().find((p, i) => p.counters.openShells > 0 && p.counters.outputBytes > before[i]! + 2000),
    );
    return { proxy, done };
  }

  /**
   * Starts a stopped proxy again and waits until the worker's pool has probed it (an Identify after the
   * restart), so the next case does not start while the pool still counts it out of service.
   */
  async function restartAndProbe(proxy: WinRmSimulator): Promise<void> {
    const identifies = () => proxy.actions.filter((a) => a.action === 'Identify').length;
    const before = identifies();
    await proxy.start();
    await eventually(async () => identifies() > before, 10_000);
  }

  async function expectNoShellOpen(): Promise<void> {
    await eventually(async () => proxies().every((p) => p.counters.openShells === 0), 10_000);
  }

  /** The next run, with no fault: everything back in line with today's data set. */
  async function recover(today: Dataset, label: string, down?: WinRmSimulator): Promise<void> {
    engine.sim.setPowerShellFaults({});
    // A proxy the fault took out of service comes back after its cool-down and a probe: the recovery
    // night starts once the pool has every running proxy back, as a real next night would.
    const running = (status: { proxy: string }) => !down || !status.proxy.endsWith(`:${down.port}`);
    await eventually(
      async () =>
        engine
          .proxyStatus()
          .filter(running)
          .every((p) => p.inService),
      15_000,
    );
    const run = await engine.sync(tenantId, label);
    expect(run.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    await expectNoShellOpen();
  }

  it('a proxy down before the script: the pool fails over to the other proxy in the same run', async () => {
    const { today } = nextNight();
    // The proxy this worker used last is the one it prefers: take it down.
    const preferred = proxies().reduce((a, b) =>
      b.counters.shellsCreated > a.counters.shellsCreated ? b : a,
    );
    const other = proxies().find((p) => p !== preferred)!;
    const otherCreatedBefore = other.counters.shellsCreated;
    await preferred.stop();
    try {
      const run = await engine.sync(tenantId, 'proxy-down');
      expect(run.status).toBe('succeeded');
      await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
      expect(other.counters.shellsCreated).toBeGreaterThan(otherCreatedBefore);
    } finally {
      await restartAndProbe(preferred);
    }
    await expectNoShellOpen();
  });

  it('a proxy killed mid-script: Teams kinds in flight fail and keep yesterday’s data; the next run uses the other proxy', async () => {
    const { yesterday, today } = nextNight();
    engine.sim.setPowerShellFaults(SLOW);
    const { proxy, done } = await syncUntilStreaming('proxy-killed');
    await proxy.stop(); // connections cut, shells gone, new connections refused: a dead process
    const run = await done;
    try {
      expect(run.status).toBe('partial');
      expect(Object.values(run.kinds).some((k) => k.error?.code === 'PROXY_UNAVAILABLE')).toBe(true);
      await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), expectedIds(yesterday));
      const other = proxies().find((p) => p !== proxy)!;
      const created = other.counters.shellsCreated;
      await recover(today, 'after-kill', proxy);
      expect(other.counters.shellsCreated).toBeGreaterThan(created);
    } finally {
      await restartAndProbe(proxy);
    }
  });

  it('a WinRM connection dropped mid-Receive: the shell is still deleted, the kinds in flight fail, nothing is lost', async () => {
    const { yesterday, today } = nextNight();
    engine.sim.setPowerShellFaults(SLOW);
    const { proxy, done } = await syncUntilStreaming('dropped');
    const dropsBefore = proxy.counters.droppedConnections;
    proxy.failNext('Receive', 'drop');
    const run = await done;
    expect(proxy.counters.droppedConnections).toBe(dropsBefore + 1);
    expect(run.status).toBe('partial');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), expectedIds(yesterday));
    await expectNoShellOpen();
    await recover(today, 'after-drop');
  });

  it('a proxy whose WinRM service restarts mid-script: "shell not found", kinds in flight fail, nothing is lost', async () => {
    const { yesterday, today } = nextNight();
    engine.sim.setPowerShellFaults(SLOW);
    const { proxy, done } = await syncUntilStreaming('restarted');
    proxy.restart();
    const run = await done;
    expect(run.status).toBe('partial');
    expect(Object.values(run.kinds).some((k) => k.error?.code === 'WINRM_SHELL_NOT_FOUND')).toBe(true);
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), expectedIds(yesterday));
    await recover(today, 'after-restart');
  });

  it('"shell not found" before any output: the command runs again in a new shell and the run succeeds', async () => {
    const { today } = nextNight();
    const created = proxies().map((p) => p.counters.shellsCreated);
    for (const p of proxies()) p.failNext('Receive', 'shell-not-found');
    const run = await engine.sync(tenantId, 'shell-not-found');
    expect(run.status).toBe('succeeded');
    await expectDataAfter(engine.mongo.db, tenantId, run, expectedIds(today), {});
    // The Teams script needed two shells on the proxy that ran it: the lost one and its replacement.
    const used = proxies().findIndex((p, i) => p.counters.shellsCreated - created[i]! >= 2);
    expect(used).toBeGreaterThanOrEqual(0);
    for (const p of proxies()) p.clearFailures();
    await expectNoShellOpen();
  });
});
