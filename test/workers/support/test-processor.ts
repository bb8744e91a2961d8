/**
 * A stand-in for the full pull, for the engine's tests: writes `pages` pages of `users` through the
 * run context (so through the lease's fence), sleeping `delayMs` between pages, then sweeps (guarded,
 * as the full pull does: a held sweep ends the kind `needs_review`). Every
 * run records when it started and ended, and every page it actually wrote, in `test_log` — the
 * tests check overlap and zombie writes from there.
 */
import type { Db } from 'mongodb';
import type { KindResult } from '../../../domain/sync-run.js';
import type { SyncProcessor } from '../../../workers/processor.js';

export interface TestProcessorOptions {
  pages: number;
  pageSize: number;
  delayMs: number;
  /** Goes into every object, so a test can tell which version of the data landed. */
  version: string;
  /** A misbehaving processor that keeps going after its signal aborted: only the fence stops it. */
  ignoreAbort?: boolean;
  /** Throw this at the first page. */
  failWith?: () => Error;
  /** Once aborted, never returns (stuck in an operation that does not watch the signal). */
  stuckOnAbort?: boolean;
}

export interface LogEntry {
  event: 'start' | 'page' | 'end' | 'error';
  runId: string;
  jobId: string;
  pid: number;
  at: number;
  page?: number;
  message?: string;
}

export function testUsers(page: number, pageSize: number, version: string): Record<string, unknown>[] {
  return Array.from({ length: pageSize }, (_, i) => {
    const n = page * pageSize + i;
    return { id: `user-${n}`, displayName: `User ${n}`, version, '@odata.type': '#microsoft.graph.user' };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function testProcessor(db: Db, options: TestProcessorOptions): SyncProcessor {
  const log = db.collection<LogEntry>('test_log');
  return async (ctx) => {
    const { signal } = ctx;
    const base = { runId: ctx.runId, jobId: ctx.jobId, pid: process.pid };
    await log.insertOne({ ...base, event: 'start', at: Date.now() });
    const started = Date.now();
    const result: KindResult = {
      status: 'succeeded',
      created: 0,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      durationMs: 0,
    };
    try {
      for (let page = 0; page < options.pages; page++) {
        if (options.failWith) throw options.failWith();
        if (!options.ignoreAbort && !options.stuckOnAbort && signal.aborted) throw signal.reason;
        await sleep(options.delayMs);
        if (options.stuckOnAbort && signal.aborted) await new Promise(() => {});
        const counts = await ctx.writePage('users', testUsers(page, options.pageSize, options.version));
        await log.insertOne({ ...base, event: 'page', page, at: Date.now() });
        result.created += counts.created;
        result.updated += counts.updated;
        result.unchanged += counts.unchanged;
        await ctx.progress({ kind: 'users', objects: (page + 1) * options.pageSize, phase: 'page' });
      }
      // The guarded sweep, like the full pull's: the engine's tests start their workers with
      // `sweepFreely` (harness.ts), so mass-delete protection lets their sweeps through.
      const swept = await ctx.guardedSweep('users');
      if ('held' in swept) {
        result.status = 'needs_review';
        result.held = swept.held;
      } else result.deleted = swept.deleted;
      result.durationMs = Date.now() - started;
      await ctx.recordKind('users', result);
      return { kinds: { users: result } };
    } catch (error) {
      await log.insertOne({ ...base, event: 'error', at: Date.now(), message: (error as Error).message });
      throw error;
    } finally {
      await log.insertOne({ ...base, event: 'end', at: Date.now() });
    }
  };
}
