/**
 * Durations on the command line (`sync --wait --timeout 90s`, `15m`, `4h`, `2d`): a whole number and
 * one unit. A bare number is minutes, as `--timeout` took before it took units.
 */
import { InvalidArgumentError } from 'commander';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of `90s`, `15m`, `4h`, `2d` (or `15`, minutes); throws a message naming the forms. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(text);
  const amount = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(amount))
    throw new Error('must be a duration such as 90s, 15m, 4h or 2d (a bare number is minutes).');
  const unit = (match[2]!.toLowerCase() || 'm') as keyof typeof UNIT_MS;
  return amount * UNIT_MS[unit];
}

/** The largest unit that divides `ms` exactly: 90000 → `90s`, 900000 → `15m`, 14400000 → `4h`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const)
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

/** A commander option parser: a duration from `minMs` to `maxMs`, in milliseconds. */
export function durationOption(minMs: number, maxMs: number): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
    if (ms < minMs || ms > maxMs)
      throw new InvalidArgumentError(`must be from ${formatDuration(minMs)} to ${formatDuration(maxMs)}.`);
    return ms;
  };
}
