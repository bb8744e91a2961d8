import { describe, expect, it } from 'vitest';
import { kindFailureStreaks } from '../../domain/failure-streaks.js';
import type { KindResult, SyncRun } from '../../domain/sync-run.js';

const kind = (status: KindResult['status']): KindResult => ({
  status,
  created: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  durationMs: 1,
});
type Run = Pick<SyncRun, 'status' | 'kinds' | 'willRetry'>;
const run = (
  status: SyncRun['status'],
  kinds: Record<string, KindResult['status']>,
  willRetry?: boolean,
): Run => ({
  status,
  kinds: Object.fromEntries(Object.entries(kinds).map(([k, s]) => [k, kind(s)])),
  ...(willRetry ? { willRetry } : {}),
});

describe('kindFailureStreaks (newest run first)', () => {
  it('counts the runs in a row a kind failed, up to its last other outcome', () => {
    const streaks = kindFailureStreaks([
      run('partial', { users: 'succeeded', mailboxes: 'failed' }),
      run('partial', { users: 'failed', mailboxes: 'failed' }),
      run('partial', { users: 'succeeded', mailboxes: 'failed' }),
      run('succeeded', { users: 'succeeded', mailboxes: 'succeeded' }),
      run('partial', { users: 'succeeded', mailboxes: 'failed' }),
    ]);
    expect(Object.fromEntries(streaks)).toEqual({ mailboxes: 3 });
  });

  it("counts one night's retries once, and passes over runs without a verdict on the kind", () => {
    const streaks = kindFailureStreaks([
      run('running', {}),
      run('failed', { groups: 'failed' }),
      run('failed', { groups: 'failed' }, true), // the same night, tried again
      run('cancelled', { groups: 'succeeded' }),
      run('merged', {}),
      run('partial', { groups: 'skipped', users: 'succeeded' }),
      run('partial', { groups: 'cancelled' }),
      run('failed', { groups: 'failed' }),
      run('needs_review', { groups: 'needs_review' }),
      run('failed', { groups: 'failed' }),
    ]);
    expect(Object.fromEntries(streaks)).toEqual({ groups: 2 });
  });

  it('is empty for a tenant never run or never failing', () => {
    expect(kindFailureStreaks([]).size).toBe(0);
    expect(kindFailureStreaks([run('succeeded', { users: 'succeeded' })]).size).toBe(0);
  });
});
