/**
 * One kind's part of a run (workers/steps/kind-run.ts) on its own: the run's context is a recording
 * stand-in and the time is fake, so counts, durations and what was recorded are exact. What the
 * header promises: pages counted (a transform may leave objects out), a sweep only when the kind
 * completed, a held sweep recorded as needs_review with how to approve it, a failure recorded
 * without any sweep (yesterday's data kept), every outcome recorded as soon as it is known.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncError } from '../../../domain/errors.js';
import type { HeldDeletes, KindResult } from '../../../domain/sync-run.js';
import type { RunContext } from '../../../workers/processor.js';
import { KindRun, runError } from '../../../workers/steps/kind-run.js';
import { recordingContext, RUN_ID } from '../support/recording-context.js';

const held: HeldDeletes = {
  wouldDelete: 50,
  stored: 100,
  limit: 10,
  threshold: '10 objects or 5 %, whichever is larger',
  origin: 'default',
  sample: ['u51', 'u52'],
  fence: 3,
};

const objects = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ({ id: `u${from + i}` }));

describe('a kind run', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function kindRun(ctx: RunContext, options?: { prepare?: boolean }) {
    const settled: { kind: string; result: KindResult; retryable?: boolean }[] = [];
    const run = new KindRun(
      'users',
      ctx,
      (kind, result, retryable) => settled.push({ kind, result, retryable }),
      options,
    );
    return { run, settled };
  }

  it("reads the kind's stored picture at once, unless told not to (a delta run)", () => {
    const full = recordingContext();
    kindRun(full.ctx);
    expect(full.calls.prepared).toEqual(['users']);
    const delta = recordingContext();
    kindRun(delta.ctx, { prepare: false });
    expect(delta.calls.prepared).toEqual([]);
  });

  it("lets a failed early read go: it surfaces at the kind's first write", async () => {
    const failed = Promise.reject(new Error('store away'));
    failed.catch(() => {}); // the kind run's own handler is the one under test; this one keeps vitest quiet
    const { ctx, calls } = recordingContext({ prepare: failed });
    kindRun(ctx);
    await vi.waitFor(() =>
      expect(calls.ignored).toEqual([
        { message: 'store away', because: expect.stringMatching(/first write/) },
      ]),
    );
  });

  it('counts its pages, writes what a transform keeps, and reports progress per page', async () => {
    const { ctx, calls } = recordingContext();
    const { run } = kindRun(ctx);
    run.transform = async (page) => page.filter((o) => o.id !== 'u2');
    await run.write(objects(3));
    await run.write([]);
    await run.write(objects(2, 4));
    expect(run.received).toBe(5);
    expect(run.objects).toBe(4);
    expect(calls.pages).toEqual([[{ id: 'u1' }, { id: 'u3' }], objects(2, 4)]);
    expect(calls.progress).toEqual([
      { kind: 'users', objects: 2, phase: 'page' },
      { kind: 'users', objects: 4, phase: 'page' },
    ]);
    expect(calls.sweeps).toBe(0);
    expect(run.settled).toBe(false);
  });

  it('completed: sweeps, then records succeeded with its counts, deletes and duration', async () => {
    const { ctx, calls } = recordingContext({ sweep: { deleted: 7 } });
    const { run, settled } = kindRun(ctx);
    await run.write(objects(3));
    vi.advanceTimersByTime(1500);
    run.annotations = { sync: 'full' };
    const result = await run.complete();
    const expected: KindResult = {
      status: 'succeeded',
      created: 3,
      updated: 0,
      unchanged: 0,
      deleted: 7,
      durationMs: 1500,
      sync: 'full',
    };
    expect(result).toEqual(expected);
    expect(calls.sweeps).toBe(1);
    expect(calls.recorded).toEqual([{ kind: 'users', result: expected }]);
    expect(settled).toEqual([{ kind: 'users', result: expected, retryable: undefined }]);
    expect(calls.progress.at(-1)).toEqual({ kind: 'users', objects: 3, phase: 'kind-done' });
    expect(run.outcome).toEqual(expected);
  });

  it('a held sweep: records needs_review, nothing deleted, with the counts and how to approve', async () => {
    const { ctx, calls } = recordingContext({ sweep: { held } });
    const { run } = kindRun(ctx);
    await run.write(objects(50));
    const result = await run.complete();
    expect(result).toMatchObject({ status: 'needs_review', created: 50, deleted: 0, held });
    expect(result.error?.code).toBe('DELETE_THRESHOLD_EXCEEDED');
    expect(result.error?.message).toContain('would delete 50 of 100 users, more than the 10 allowed');
    expect(result.error?.message).toContain(`m365sync runs approve-deletes ${RUN_ID}`);
    expect(calls.recorded.map((r) => r.result.status)).toEqual(['needs_review']);
    expect(calls.progress.at(-1)?.phase).toBe('kind-done');
  });

  it('failed: sweeps nothing, records the error and tells whether trying again may help', async () => {
    const { ctx, calls } = recordingContext();
    const { run, settled } = kindRun(ctx);
    await run.write(objects(2));
    vi.advanceTimersByTime(300);
    const result = await run.fail(new SyncError('THROTTLED', 'Graph said slow down', { retryable: true }));
    expect(result).toEqual({
      status: 'failed',
      created: 2,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      durationMs: 300,
      error: { code: 'THROTTLED', message: 'Graph said slow down' },
    });
    expect(calls.sweeps).toBe(0);
    expect(settled[0]?.retryable).toBe(true);
    expect(calls.progress.at(-1)?.phase).toBe('kind-failed');
  });

  it('cancelled when its run was stopped; a failure after its outcome was known changes nothing', async () => {
    const { ctx, calls } = recordingContext();
    const { run } = kindRun(ctx);
    const stop = new AbortController();
    stop.abort(new Error('operator'));
    const result = await run.fail(new Error('aborted'), stop.signal);
    expect(result.status).toBe('cancelled');

    const again = await run.fail(new Error('later failure'));
    expect(again).toBe(result);
    expect(calls.recorded).toHaveLength(1);
  });

  it('a delta round: nothing read or swept without removals, or when none of the removed is stored', async () => {
    const quiet = recordingContext();
    const none = kindRun(quiet.ctx, { prepare: false }).run;
    expect(await none.completeDelta(new Set())).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(quiet.calls.keptAllBut).toEqual([]);
    expect(quiet.calls.sweeps).toBe(0);

    const unknown = recordingContext({ storedOfRemoved: 0 });
    const notStored = kindRun(unknown.ctx, { prepare: false }).run;
    expect(await notStored.completeDelta(new Set(['u-never']))).toMatchObject({ status: 'succeeded' });
    expect(unknown.calls.sweeps).toBe(0);

    const removing = recordingContext({ sweep: { deleted: 2 } });
    const removes = kindRun(removing.ctx, { prepare: false }).run;
    expect(await removes.completeDelta(new Set(['u1', 'u2']))).toMatchObject({
      status: 'succeeded',
      deleted: 2,
    });
    expect(removing.calls.keptAllBut).toEqual([new Set(['u1', 'u2'])]);
    expect(removing.calls.sweeps).toBe(1);
  });
});

describe('a kind’s run error', () => {
  it("keeps a SyncError's code and whether to retry; an unknown error is TRANSIENT, to be retried", () => {
    expect(runError(new SyncError('AUTHENTICATION', 'bad secret'))).toEqual({
      code: 'AUTHENTICATION',
      message: 'bad secret',
      retryable: false,
    });
    expect(runError(new TypeError('x is undefined'))).toEqual({
      code: 'TRANSIENT',
      message: 'x is undefined',
      retryable: true,
    });
    expect(runError('a string')).toEqual({ code: 'TRANSIENT', message: 'a string', retryable: true });
  });
});
