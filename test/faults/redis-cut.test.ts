/**
 * A worker cut off from Redis only (a TCP proxy between it and Redis that stops forwarding: the
 * network path is gone, MongoDB is still reachable). It cannot renew its job's lock, and BullMQ would
 * tell it only once Redis answers again; meanwhile it could keep renewing the tenant's lease in MongoDB
 * and hold the tenant hostage. Its Redis watch (workers/redis-watch.ts) stops the run within half the
 * lock: the record says why and the lease is released, so another worker finishes the tenant.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { eventually } from '../workers/support/harness.js';
import { FaultEngine } from './support/engine.js';
import { recordFault } from './support/outcomes.js';

const FILE = 'test/faults/redis-cut.test.ts';

describe('a worker cut off from Redis only', () => {
  let engine: FaultEngine | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await engine?.close();
    await proxy?.close();
    engine = undefined;
    proxy = undefined;
  });

  it("gives up the tenant's lease within the job lock, so another worker finishes the tenant", async () => {
    const e = (engine = await FaultEngine.start('faultrediscut'));
    const redis = new URL(e.redisUrl);
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const cut = await e.spawnWorker('cut', { REDIS_URL: proxy.url('redis') });
    e.sim.graph.setLatency(700);
    const first = await e.enqueue({ requestedBy: 'op' });
    await eventually(async () => (await e.runs.get(first.runId!))?.status === 'running', 30_000);

    await proxy.setMode('hang');
    // The cut-off run stops and says why; its lease is free although MongoDB answers it throughout.
    const stopped = await eventually(async () => {
      const run = await e.runs.get(first.runId!);
      return run?.status === 'cancelled' && run;
    }, 20_000);
    expect(stopped.error).toMatchObject({ code: 'LOCK_LAPSING' });
    await eventually(async () => (await e.stores.leases.holder(e.tenantId)) === null, 10_000);

    // Another worker, reaching Redis, takes the job once its lock lapsed and finishes the tenant.
    e.sim.graph.setLatency(0);
    await e.spawnWorker('other');
    await eventually(async () => {
      const runs = await e.runs.list({ tenantId: e.tenantId, limit: 20 });
      return runs.some(
        (r) => r.jobId === first.jobId && r.status === 'succeeded' && r.worker !== stopped.worker,
      );
    }, 90_000);
    // The cut-off worker never comes back (a healed proxy would hand it a torn Redis stream): killed.
    await e.killWorker(cut);
    await e.expectMatchesDataset();
    const runs = await e.settledRuns();
    e.expectTruthful(runs);
    expect(runs.filter((r) => r.jobId === first.jobId).map((r) => [r.attempt, r.status])).toEqual([
      [2, 'succeeded'],
      [1, 'cancelled'],
    ]);
    recordFault({
      id: 'redis-cut-one-worker',
      fault: 'one worker cut off from Redis (its connections hang) mid-run; MongoDB still reachable',
      times: 1,
      engine:
        "the cut-off run stopped within half the job lock, recorded LOCK_LAPSING and released the tenant's lease; another worker took the job after its lock lapsed and finished the tenant",
      lost: 'nothing',
      file: FILE,
    });
  });
});
