/**
 * Redis restarted mid-run (a private redis-server, never the shared one), keeping its data (an
 * append-only file synced at every write) and losing it (no persistence): the run and the follow-up
 * end truthfully, nothing is lost in MongoDB, and job ids never repeat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../workers/support/harness.js';
import { FaultEngine } from './support/engine.js';
import { recordFault } from './support/outcomes.js';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.js';

const FILE = 'test/faults/redis.test.ts';

describe('Redis restarted mid-run', () => {
  let engine: FaultEngine | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await engine?.close();
    await redis?.close();
    engine = undefined;
    redis = undefined;
  });

  async function runThroughRestart(persist: boolean) {
    redis = await startPrivateRedis({ persist });
    const e = (engine = await FaultEngine.start(persist ? 'faultredis' : 'faultredisloss', {
      redisUrl: redis.url,
    }));
    await e.spawnWorker('w1');
    e.sim.graph.setLatency(700);
    const request = (requestedBy: string) => e.enqueue({ requestedBy });
    const first = await request('op');
    await eventually(async () => (await e.runs.get(first.runId!))?.status === 'running', 30_000);
    const followUp = await request('op-2');
    expect(followUp.outcome).toBe('follow-up');
    await redis.restart();
    e.sim.graph.setLatency(0);
    return { e, first, followUp, request };
  }

  it('keeps every request when Redis restarts with its data: the run and the follow-up complete', async () => {
    const { e, first, followUp } = await runThroughRestart(true);
    await eventually(async () => (await e.runs.get(followUp.runId!))?.status === 'succeeded', 90_000);
    await e.expectMatchesDataset();
    const runs = await e.settledRuns();
    e.expectTruthful(runs);
    expect(runs.filter((r) => r.jobId === first.jobId).some((r) => r.status === 'succeeded')).toBe(true);
    recordFault({
      id: 'redis-restart-keeps-data',
      fault: 'Redis killed and restarted mid-run, keeping its data (append-only file)',
      times: 1,
      engine:
        'workers and producers reconnected; the run completed (or, if its lock lapsed, was cancelled and run again); the follow-up kept by BullMQ ran',
      lost: 'nothing',
      file: FILE,
    });
  });

  it('ends every record truthfully when Redis restarts empty, and the next sync gets a new job id', async () => {
    const { e, first, followUp, request } = await runThroughRestart(false);
    // The follow-up lived only in Redis: its record ends failed JOB_LOST (the reaper), not queued.
    const lost = await eventually(async () => {
      const r = await e.runs.get(followUp.runId!);
      return r !== null && r.status !== 'queued' ? r : undefined;
    }, 60_000);
    expect(lost.status).toBe('failed');
    expect(lost.error?.code).toBe('JOB_LOST');
    const cut = await eventually(async () => {
      const r = await e.runs.get(first.runId!);
      return r !== null && r.status !== 'running' && r.status !== 'queued' ? r : undefined;
    }, 60_000);
    expect(['succeeded', 'cancelled', 'failed']).toContain(cut.status);

    const again = await request('op-3');
    expect(again.outcome).toBe('created');
    expect(again.jobId).not.toBe(first.jobId);
    await eventually(async () => (await e.runs.get(again.runId!))?.status === 'succeeded', 60_000);
    await e.expectMatchesDataset();
    const runs = await e.settledRuns();
    e.expectTruthful(runs);
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    recordFault({
      id: 'redis-restart-loses-data',
      fault: 'Redis killed and restarted mid-run without persistence (every job and follow-up lost)',
      times: 1,
      engine:
        'the running run ended on its own (MongoDB lease); the lost follow-up request ended failed JOB_LOST (reaper); the next request got a new job id (run ids are job ids) and succeeded',
      lost: 'the queued follow-up request (recorded as JOB_LOST, to be requested again); no data',
      file: FILE,
    });
  });
});
