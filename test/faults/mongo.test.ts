/**
 * The MongoDB-wire server refusing connections for 15 s, and one that hangs (a TCP proxy that keeps
 * connections open and forwards nothing), under a worker process running the full pull: the run ends
 * within its lease time instead of hanging, its record ends truthfully, and the tenant's follow-up
 * runs once MongoDB is back. In the first two the driver's timeouts end the run (it writes every
 * page); the third hangs MongoDB while the run waits on Graph, so only the lease keeper can stop it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testEnv } from '../support/env.js';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../support/tcp-proxy.js';
import { eventually } from '../workers/support/harness.js';
import { FaultEngine } from './support/engine.js';
import { recordFault } from './support/outcomes.js';

const FILE = 'test/faults/mongo.test.ts';

describe('MongoDB refusing connections or hanging mid-run', () => {
  let engine: FaultEngine;
  let proxy: TcpProxy;
  beforeEach(async () => {
    engine = await FaultEngine.start('faultmongo');
    const target = new URL(testEnv().mongoUri);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 27017) });
  });
  afterEach(async () => {
    await proxy.setMode('forward');
    await engine.close();
    await proxy.close();
  });

  async function outage(mode: Exclude<ProxyMode, 'forward'>, seconds: number) {
    const worker = await engine.spawnWorker('w1', { MONGODB_URI: proxy.url('mongodb') });
    engine.sim.graph.setLatency(700);
    // Job options, fixed by the enqueue: retries spread over more than the outage (3, 6, 12, 24 s,
    // each less up to half).
    const retryOverOutage = { SYNC_ATTEMPTS: '5', SYNC_BACKOFF_MS: '3000' };
    const first = await engine.enqueue({ requestedBy: 'op' }, retryOverOutage);
    await eventually(async () => (await engine.runs.get(first.runId!))?.status === 'running', 30_000);
    const followUp = await engine.enqueue({ trigger: 'api', requestedBy: 'op-2' }, retryOverOutage);
    expect(followUp.outcome).toBe('follow-up');

    await proxy.setMode(mode);
    const outageEnds = Date.now() + seconds * 1000;
    // The run stops within its lease time (4 s) plus one operation timeout: well inside the outage.
    await eventually(
      async () => (await engine.queue.getJobState(first.jobId)) !== 'active',
      seconds * 1000 - 2000,
    );
    expect(Date.now()).toBeLessThan(outageEnds);
    await eventually(async () => Date.now() >= outageEnds, seconds * 1000 + 1000);
    engine.sim.graph.setLatency(0);
    await proxy.setMode('forward');

    await eventually(async () => (await engine.runs.get(followUp.runId!))?.status === 'succeeded', 120_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    const attempts = runs.filter((r) => r.jobId === first.jobId);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    // The run cut off by the outage did not end as a success; it says why it stopped.
    const cutOff = attempts.find((r) => r.id === first.runId)!;
    expect(['failed', 'cancelled']).toContain(cutOff.status);
    expect(cutOff.error?.message).toBeTruthy();
    expect(worker.proc.exitCode).toBeNull();
    return runs;
  }

  it('cancels a run that waits on a slow Graph page when MongoDB hangs: it stops before its lease lapses, not when the page returns', async () => {
    // Nothing of this run touches MongoDB while it waits on Graph, so no driver timeout can end it:
    // only the lease keeper, which cancels the run when the lease is about to lapse unrenewed.
    const pageMs = 40_000;
    await engine.spawnWorker('w1', { MONGODB_URI: proxy.url('mongodb') });
    engine.sim.graph.setLatency(pageMs);
    const waiting = await engine.enqueue({ requestedBy: 'op', kinds: ['users'] });
    await eventually(async () => engine.sim.graph.maxGraphInFlight() >= 1, 30_000);
    await proxy.setMode('hang');
    const hungAt = Date.now();
    // The lease (4 s) lapses long before the page (40 s) returns: the run must be gone by then.
    await eventually(async () => (await engine.queue.getJobState(waiting.jobId)) !== 'active', pageMs / 2);
    const stoppedAfterMs = Date.now() - hungAt;
    engine.sim.graph.setLatency(0);
    await proxy.setMode('forward');
    // The job is tried again (FAST_ENV's backoff) once MongoDB answers; then a full sync.
    await eventually(async () => (await engine.queue.getJobState(waiting.jobId)) === 'completed', 60_000);
    const full = await engine.enqueue({ requestedBy: 'op-2' });
    await eventually(async () => (await engine.runs.get(full.runId!))?.status === 'succeeded', 120_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    const cutOff = runs.find((r) => r.id === waiting.runId)!;
    expect(['failed', 'cancelled']).toContain(cutOff.status);
    expect(cutOff.error?.code).toBe('LEASE_LAPSING');
    recordFault({
      id: 'mongodb-hangs-while-waiting-on-graph',
      fault:
        'the MongoDB-wire server stopped answering while the run waited on a 40 s Graph page (no MongoDB operation in flight)',
      times: 1,
      engine: `the lease keeper cancelled the run when its lease was about to lapse unrenewed (the job left active ${Math.round(stoppedAfterMs / 1000)} s after the hang, not when the page returned); the record says LEASE_LAPSING and the next sync succeeded`,
      lost: 'nothing',
      file: FILE,
    });
  });

  it('ends the run within its lease time when MongoDB refuses connections for 15 s; the follow-up runs', async () => {
    const runs = await outage('refuse', 15);
    recordFault({
      id: 'mongodb-refuses-15s',
      fault: 'the MongoDB-wire server refused connections for 15 s mid-run',
      times: 1,
      engine: `the run's writes failed at the driver's timeouts, well within its lease time; the job was retried after the outage and the follow-up ran (${runs.length} run records, all terminal)`,
      lost: 'nothing',
      file: FILE,
    });
  });

  it('ends the run within its lease time when MongoDB hangs; the follow-up runs', async () => {
    const runs = await outage('hang', 10);
    recordFault({
      id: 'mongodb-hangs',
      fault:
        'the MongoDB-wire server stopped answering (connections open, nothing forwarded) for 10 s mid-run',
      times: 1,
      engine: `every operation timed out (socket timeout), ending the run within its lease time; the job was retried and the follow-up ran (${runs.length} run records, all terminal)`,
      lost: 'nothing',
      file: FILE,
    });
  });
});
