import { describe, expect, it } from 'vitest';
import type { KindResult, KindStatus } from '../../domain/sync-run.js';
import { runStatusOf } from '../../domain/sync-run.js';

const kind = (status: KindStatus): KindResult => ({
  status,
  created: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  durationMs: 0,
});
const of = (...statuses: KindStatus[]) =>
  runStatusOf({ kinds: Object.fromEntries(statuses.map((s, i) => [`k${i}`, kind(s)])) });

describe('run status from kind results', () => {
  it('is needs_review when a sweep was held and nothing failed', () => {
    expect(of('succeeded', 'needs_review')).toBe('needs_review');
    expect(of('needs_review')).toBe('needs_review');
  });
  it('is partial when some kinds failed, held ones or not (a failure comes first)', () => {
    expect(of('succeeded', 'failed')).toBe('partial');
    expect(of('needs_review', 'failed')).toBe('partial');
    expect(of('needs_review', 'cancelled')).toBe('partial');
  });
  it('is failed only when every kind failed, succeeded when every kind did', () => {
    expect(of('failed', 'cancelled')).toBe('failed');
    expect(of('succeeded', 'succeeded')).toBe('succeeded');
  });
});
