/**
 * Workers killed and frozen mid-run, as real processes running the real full pull against the
 * simulated tenant: SIGKILL mid-Graph and mid-script (once), three times in a row (a poison job), and
 * SIGSTOP past the lease while a new run starts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../workers/support/harness.js';
import { FaultEngine, type ChildWorker } from './support/engine.js';
import { recordFault } from './support/outcomes.js';

const FILE = 'test/faults/worker-kill.test.ts';

describe('workers killed and frozen mid-run', () => {
  let engine: FaultEngine;
  beforeEach(async () => {
    engine = await FaultEngine.start('faultkill');
  });
  afterEach(async () => {
    await engine.close();
  });

  const enqueue = (requestedBy: string) => engine.enqueue({ requestedBy });
  const runOf = (worker: ChildWorker) =>
    eventually(async () => {
      const [run] = await engine.runs.list({ tenantId: engine.tenantId, status: 'running' });
      return run?.worker === worker.id && run;
    }, 30_000);
  const usersStored = () => engine.mongo.db.collection('users').countDocuments({ tenantId: engine.tenantId });
  const jobState = (jobId: string) => engine.queue.getJobState(jobId);

  it('recovers a run whose worker was killed mid-Graph: another worker completes it', async () => {
    engine.sim.graph.setLatency(1500);
    const w1 = await engine.spawnWorker('w1');
    const request = await enqueue('op');
    await runOf(w1);
    await eventually(async () => engine.sim.graph.requests.length > 0 && (await usersStored()) === 0);
    await engine.killWorker(w1);
    engine.sim.graph.setLatency(0);
    await engine.spawnWorker('w2');
    await eventually(async () => (await jobState(request.jobId)) === 'completed', 60_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    expect(runs.map((r) => [r.status, r.worker, r.error?.code])).toEqual([
      ['succeeded', 'w2', undefined],
      ['failed', 'w1', 'WORKER_LOST'],
    ]);
    recordFault({
      id: 'worker-sigkill-mid-graph',
      fault: 'worker process SIGKILLed while its Graph requests were in flight',
      times: 1,
      engine:
        'the stalled-job check returned the job; another worker ran it as a new attempt (run succeeded); the killed run was marked failed WORKER_LOST',
      lost: 'nothing',
      file: FILE,
    });
  });

  it('recovers a run whose worker was killed mid-script', async () => {
    engine.sim.setPowerShellFaults({ startDelayMs: 5000 });
    const w1 = await engine.spawnWorker('w1');
    const request = await enqueue('op');
    await runOf(w1);
    // Graph is done (users stored), the Teams script is running and has written nothing yet.
    await eventually(
      async () =>
        (await usersStored()) === engine.sim.dataset().users.length &&
        (await engine.mongo.db.collection('dial_plans').countDocuments({ tenantId: engine.tenantId })) === 0,
    );
    await engine.killWorker(w1);
    engine.sim.setPowerShellFaults({});
    await engine.spawnWorker('w2');
    await eventually(async () => (await jobState(request.jobId)) === 'completed', 60_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    expect(runs.map((r) => [r.status, r.worker, r.error?.code])).toEqual([
      ['succeeded', 'w2', undefined],
      ['failed', 'w1', 'WORKER_LOST'],
    ]);
    recordFault({
      id: 'worker-sigkill-mid-script',
      fault: 'worker process SIGKILLed while its Teams and Exchange scripts ran',
      times: 1,
      engine:
        'the job went back to the queue; another worker ran the whole pull again (run succeeded); the killed run was marked failed WORKER_LOST',
      lost: 'nothing',
      file: FILE,
    });
  });

  it('fails a job killed three times (poison) on its run records too, and the next sync runs', async () => {
    engine.sim.graph.setLatency(1500);
    const request = await enqueue('op');
    for (const id of ['w1', 'w2', 'w3']) {
      const worker = await engine.spawnWorker(id);
      await runOf(worker);
      await engine.killWorker(worker);
    }
    engine.sim.graph.setLatency(0);
    await engine.spawnWorker('w4');
    await eventually(async () => (await jobState(request.jobId)) === 'failed', 60_000);
    const killed = await engine.settledRuns();
    engine.expectTruthful(killed);
    expect(killed.map((r) => [r.status, r.worker, r.error?.code])).toEqual([
      ['failed', 'w3', 'WORKER_LOST'],
      ['failed', 'w2', 'WORKER_LOST'],
      ['failed', 'w1', 'WORKER_LOST'],
    ]);
    expect(killed[0]!.error?.message).toMatch(/stopped too many times/);

    const next = await enqueue('op-next');
    expect(next.outcome).toBe('created');
    await eventually(async () => (await jobState(next.jobId)) === 'completed', 60_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    expect(runs[0]).toMatchObject({ id: next.runId, status: 'succeeded', worker: 'w4' });
    recordFault({
      id: 'worker-sigkill-poison',
      fault: 'worker process SIGKILLed mid-run three times in a row (poison job)',
      times: 3,
      engine:
        'two recoveries, then BullMQ failed the job (stalled more than allowed); every run record ended failed WORKER_LOST (the last by the reaper); the next sync succeeded',
      lost: 'nothing',
      file: FILE,
    });
  });

  it('lets a worker frozen past its lease write nothing after a new run started', async () => {
    engine.sim.graph.setLatency(800);
    const zombie = await engine.spawnWorker('zombie');
    const request = await enqueue('op');
    const zombieRun = await runOf(zombie);
    zombie.kill('SIGSTOP');
    const fresh = await engine.spawnWorker('fresh');
    const freshRun = await runOf(fresh);
    zombie.kill('SIGCONT');
    engine.sim.graph.setLatency(0);
    await eventually(async () => (await jobState(request.jobId)) === 'completed', 60_000);
    await engine.expectMatchesDataset();
    const runs = await engine.settledRuns();
    engine.expectTruthful(runs);
    const byId = new Map(runs.map((r) => [r.id, r]));
    expect(byId.get(freshRun.id)?.status).toBe('succeeded');
    expect(['failed', 'cancelled']).toContain(byId.get(zombieRun.id)?.status);
    // Every object was last written by the new run: the zombie wrote nothing after it started.
    for (const collection of ['users', 'groups', 'licences', 'teams_users', 'mailboxes']) {
      const stamps = await engine.mongo.db
        .collection(collection)
        .distinct('syncRunId', { tenantId: engine.tenantId });
      expect(stamps).toEqual([freshRun.id]);
    }
    recordFault({
      id: 'worker-sigstop-past-lease',
      fault: 'worker process frozen (SIGSTOP) past its lock and lease while a new run started, then resumed',
      times: 1,
      engine:
        'the new run took the job and the lease; the resumed worker lost its lock and lease and was cancelled before writing (fence); its run ended failed or cancelled',
      lost: 'nothing',
      file: FILE,
    });
  });
});
