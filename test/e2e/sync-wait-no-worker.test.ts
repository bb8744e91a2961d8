/**
 * `m365sync sync --wait` through the real CLI when no worker is connected: it says so within seconds
 * and how to start one, keeps waiting, and says when a worker connects; the run then ends as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliContext } from '../../cli/commands/context.js';
import { runCli } from '../../cli/program.js';
import { cli } from '../support/cli.js';
import { eventually } from '../workers/support/harness.js';
import { startEngine, type Engine } from './support/engine.js';

describe('sync --wait with no worker', { timeout: 120_000 }, () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine('e2e-no-worker', { dataset: { seed: 41, users: 20 }, worker: false });
    await engine.stores.tenants.add(engine.sim.tenantInput);
  }, 120_000);

  afterAll(async () => engine?.close());

  it('fixes the CLI’s SYNC_ATTEMPTS and SYNC_BACKOFF_MS in the job it enqueues, and refuses wrong ones', async () => {
    const input = structuredClone(engine.sim.tenantInput);
    input.Tenant = { name: 'Retry settings' };
    const tenantId = (await engine.stores.tenants.add(input)).id;
    const ref = `${input.hierarchy}/Retry settings`;
    const env = engine.cliEnv('settings-test');

    const refused = await cli({ ...env, SYNC_ATTEMPTS: 'three' }, 'sync', ref);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/SYNC_ATTEMPTS: .*\(not "three"\)/);
    expect(await engine.queue.getDeduplicationJobId(tenantId)).toBeFalsy();

    const enqueued = await cli({ ...env, SYNC_ATTEMPTS: '6', SYNC_BACKOFF_MS: '1500' }, 'sync', ref);
    expect(enqueued.code).toBe(0);
    const jobId = /\(job ([0-9a-f]+)\)/.exec(enqueued.out)?.[1];
    const job = await engine.queue.getJob(jobId!);
    expect(job?.data.tenantId).toBe(tenantId);
    expect(job?.opts.attempts).toBe(6);
    expect(job?.opts.backoff).toMatchObject({ type: 'exponential', delay: 1500 });
    await job!.remove();
  });

  it('says at once that no worker is connected and how to start one, then runs when one starts', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx = createCliContext(
      { out: (s) => out.push(s), err: (s) => err.push(s) },
      engine.cliEnv('no-worker-test'),
    );
    const finished = runCli(ctx, ['sync', 'demo.provider.contoso/Contoso Simulated', '--wait']);

    // Said within seconds (the first check runs as the wait starts), long before any timeout.
    const warning = await eventually(async () => err.find((l) => l.includes('no sync worker')), 10_000);
    expect(warning).toMatch(
      /^no sync worker is connected to redis:\/\/\S+ \(queue prefix \S+\): the sync waits/,
    );
    expect(warning).toContain('Start one with `m365sync worker`');
    expect(warning).toContain('REDIS_URL and M365SYNC_QUEUE_PREFIX');
    expect(out.join('\n')).toMatch(/enqueued \(job [0-9a-f]+\)/);

    await engine.startWorker();
    expect(await finished).toBe(0);
    expect(err).toContain('a sync worker is connected; the sync can start');
    expect(err.filter((l) => l.includes('no sync worker'))).toHaveLength(1);
    expect(out.join('\n')).toMatch(/run \S+: succeeded in/);
  });
});
