/**
 * `--timeout` durations (90s, 15m, 4h, 2d; a bare number is minutes) and the exit codes of the one
 * table in the README: a run still going when the wait ended has its own code, and of several runs
 * the worst decides.
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { durationOption, formatDuration, parseDuration } from '../../cli/commands/duration.js';
import { EXIT, exitForStatus, worstExit } from '../../cli/commands/exit-codes.js';

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['4h', 14_400_000],
    ['2d', 172_800_000],
    ['15', 900_000],
    [' 30S ', 30_000],
    ['1h', 3_600_000],
  ])('%s is %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'm', '1.5h', '-5m', '5 minutes', '5x', '1h30m', '1e3s'])(
    'refuses %j, naming the forms',
    (text) => {
      expect(() => parseDuration(text)).toThrow('must be a duration such as 90s, 15m, 4h or 2d');
    },
  );

  it('says a duration in its largest exact unit', () => {
    expect([90_000, 900_000, 14_400_000, 86_400_000, 1500].map(formatDuration)).toEqual([
      '90s',
      '15m',
      '4h',
      '1d',
      '2s',
    ]);
  });

  it('as an option: within bounds, else commander reports the option', () => {
    const parse = durationOption(1000, 7 * 86_400_000);
    expect(parse('90s')).toBe(90_000);
    expect(() => parse('0s')).toThrow(new InvalidArgumentError('must be from 1s to 7d.'));
    expect(() => parse('8d')).toThrow(InvalidArgumentError);
    expect(() => parse('soon')).toThrow(InvalidArgumentError);
  });
});

describe('exit codes', () => {
  it('one per outcome', () => {
    expect(EXIT).toEqual({
      ok: 0,
      failed: 1,
      invalid: 2,
      partial: 3,
      needsReview: 4,
      notFound: 5,
      stillRunning: 6,
    });
    expect(
      ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled', 'queued', 'running'].map(exitForStatus),
    ).toEqual([0, 3, 4, 1, 1, 6, 6]);
  });

  it('of several runs, the worst: failed, then still going, then needs_review, then partial', () => {
    expect(worstExit([0, 3, 6, 4])).toBe(6);
    expect(worstExit([6, 1, 0])).toBe(1);
    expect(worstExit([0, 3, 4])).toBe(4);
    expect(worstExit([0, 3])).toBe(3);
    expect(worstExit([])).toBe(0);
  });
});
