/**
 * A PowerShell step of a full pull (workers/steps/powershell-step.ts) on real kind runs, with a
 * scripted proxy pool (its executions are real `Execution`s over the JSON Lines given) and a recording
 * run context: objects written in batches as they stream, a kind complete only with its `end` line and
 * a matching count, a kind with an `err` line or none failing with what arrived written and nothing
 * swept, a kind not asked for never written, the account's session slot held while the script runs.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  Execution,
  type ExecutionResult,
  type OutputChunk,
  type ProxyPool,
} from '../../../connectors/winrm/index.js';
import { KindRun } from '../../../workers/steps/kind-run.js';
import { runPowerShellStep, type PowerShellStepOptions } from '../../../workers/steps/powershell-step.js';
import { recordingContext } from '../support/recording-context.js';

const line = (record: object) => `${JSON.stringify(record)}\n`;
const obj = (kind: string, n: number) => line({ t: 'obj', kind, o: { Identity: `${kind}-${n}` } });
const end = (kind: string, count: number) => line({ t: 'end', kind, count });

/** A pool whose one execution streams `stdout` (one chunk per line) and then exits with `exitCode`. */
function scriptedPool(stdout: string[], options: { exitCode?: number; stderr?: string } = {}) {
  const executed: string[] = [];
  const pool = {
    execute(script: string) {
      executed.push(script);
      return new Execution(async function* (): AsyncGenerator<OutputChunk, ExecutionResult, undefined> {
        for (const text of stdout) yield { stream: 'stdout', data: Buffer.from(text) };
        if (options.stderr) yield { stream: 'stderr', data: Buffer.from(options.stderr) };
        return {
          exitCode: options.exitCode ?? 0,
          proxy: 'proxy:5985',
          stdoutBytes: 0,
          stderrBytes: 0,
          attempts: 1,
          durationMs: 1,
        };
      });
    },
  };
  return { pool: pool as unknown as ProxyPool, executed };
}

function step(pool: ProxyPool, overrides: Partial<PowerShellStepOptions> = {}) {
  const { ctx, calls } = recordingContext();
  const runs = new Map<string, KindRun>();
  const options: PowerShellStepOptions = {
    application: 'Microsoft Teams',
    script: 'the script',
    kinds: ['dial_plans', 'call_queues'],
    pool,
    start: (kind) => {
      const run = new KindRun(kind, ctx, () => {}, { prepare: false });
      runs.set(kind, run);
      return run;
    },
    signal: new AbortController().signal,
    secrets: ['s3cret-pass'],
    batchSize: 2,
    deadlineMs: 60_000,
    output: {},
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
  const batchesOf = (kind: string) =>
    calls.pages.filter((_, i) => calls.pageKinds[i] === kind).map((page) => page.length);
  return { run: () => runPowerShellStep(options), runs, calls, batchesOf };
}

describe('a PowerShell step', () => {
  it('writes each kind in batches as it streams, completes it at its end line, and never writes a kind not asked for', async () => {
    const { pool, executed } = scriptedPool([
      ...[1, 2, 3, 4, 5].map((n) => obj('dial_plans', n)),
      obj('voice_routes', 1),
      end('dial_plans', 5),
      obj('call_queues', 1),
      end('call_queues', 1),
      line({ t: 'done' }),
    ]);
    const { run, runs, calls, batchesOf } = step(pool);
    await run();
    expect(executed).toEqual(['the script']);
    expect(batchesOf('dial_plans')).toEqual([2, 2, 1]);
    expect(batchesOf('call_queues')).toEqual([1]);
    expect(calls.pageKinds).not.toContain('voice_routes');
    expect(runs.get('dial_plans')?.outcome).toMatchObject({ status: 'succeeded', created: 5 });
    expect(runs.get('call_queues')?.outcome?.status).toBe('succeeded');
    expect(calls.swept.sort()).toEqual(['call_queues', 'dial_plans']);
  });

  it('fails a kind whose count does not match its end line, sweeping nothing', async () => {
    const { pool } = scriptedPool([
      obj('dial_plans', 1),
      end('dial_plans', 2),
      end('call_queues', 0),
      line({ t: 'done' }),
    ]);
    const { run, runs, calls } = step(pool);
    await run();
    expect(runs.get('dial_plans')?.outcome).toMatchObject({
      status: 'failed',
      created: 1,
      error: {
        code: 'POWERSHELL_ERROR',
        message: expect.stringContaining('said 2 dial_plans but 1 arrived'),
      },
    });
    expect(calls.swept).toEqual(['call_queues']);
  });

  it('writes what arrived of a kind with an err line, fails it, and sweeps nothing of it', async () => {
    const { pool } = scriptedPool([
      obj('call_queues', 1),
      line({ t: 'err', kind: 'call_queues', count: 1, message: 'Access denied' }),
      end('dial_plans', 0),
      line({ t: 'done' }),
    ]);
    const { run, runs, calls, batchesOf } = step(pool);
    await run();
    expect(batchesOf('call_queues')).toEqual([1]);
    expect(runs.get('call_queues')?.outcome).toMatchObject({
      status: 'failed',
      error: { code: 'POWERSHELL_ERROR', message: 'Microsoft Teams: call_queues failed: Access denied' },
    });
    expect(calls.swept).toEqual(['dial_plans']);
  });

  it('fails the kinds left without a result when the script dies, writing what arrived, naming the failure', async () => {
    const { pool } = scriptedPool([obj('dial_plans', 1), end('dial_plans', 1), obj('call_queues', 1)], {
      exitCode: 1,
    });
    const { run, runs, calls, batchesOf } = step(pool);
    await run();
    expect(runs.get('dial_plans')?.outcome?.status).toBe('succeeded');
    expect(batchesOf('call_queues')).toEqual([1]);
    expect(runs.get('call_queues')?.outcome).toMatchObject({
      status: 'failed',
      error: { code: 'POWERSHELL_ERROR', message: expect.stringContaining('exit code 1 before its end') },
    });
    expect(calls.swept).toEqual(['dial_plans']);
  });

  it('fails a kind the script finished without, though it exited well', async () => {
    const { pool } = scriptedPool([end('dial_plans', 0), line({ t: 'done' })]);
    const { run, runs } = step(pool);
    await run();
    expect(runs.get('call_queues')?.outcome).toMatchObject({
      status: 'failed',
      error: { message: 'Microsoft Teams script ended without a result for call_queues.' },
    });
  });

  it("holds the account's session slot while the script runs; without one, runs no script", async () => {
    const events: string[] = [];
    const { pool, executed } = scriptedPool([
      end('dial_plans', 0),
      end('call_queues', 0),
      line({ t: 'done' }),
    ]);
    const held = step(pool, {
      acquireSession: async () => {
        events.push('acquired');
        return () => void events.push(`released after ${executed.length} script(s)`);
      },
    });
    await held.run();
    expect(events).toEqual(['acquired', 'released after 1 script(s)']);

    const refused = scriptedPool([]);
    const waiting = step(refused.pool, {
      acquireSession: async () => {
        throw new Error('the run was cancelled while waiting for a session');
      },
    });
    await waiting.run();
    expect(refused.executed).toEqual([]);
    for (const kind of ['dial_plans', 'call_queues'])
      expect(waiting.runs.get(kind)?.outcome?.error?.message).toBe(
        'the run was cancelled while waiting for a session',
      );
  });
});
