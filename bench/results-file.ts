/**
 * The benchmarks' shared records: `<out>/results.json` and `<out>/RESULTS.md`, each written by more
 * than one benchmark (bench/nightly.ts, bench/freshness.ts, bench/console.ts, bench/fleet.ts). Each rewrites only its own part, so one
 * run of either keeps the other's last figures:
 * - results.json: its top-level fields, and in `targets` the entries it owns (each target is
 *   `{ target, measured, met }`);
 * - RESULTS.md: its section between `<!-- <name>:start` and `<!-- <name>:end -->`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The freshness benchmark's targets in results.json are named `freshness_…`; the nightly's are not. */
export const FRESHNESS_TARGET_PREFIX = 'freshness_';

export interface Target {
  target: string;
  measured: number;
  met: boolean;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * Writes `fields` and `targets` into `<out>/results.json`, keeping the other benchmarks' fields and
 * the targets `owns` says are not this benchmark's. `first`: this benchmark's targets come first.
 */
export function writeResults(
  out: string,
  part: {
    fields: Record<string, unknown>;
    targets: Record<string, Target>;
    owns: (target: string) => boolean;
    first?: boolean;
  },
): string {
  const path = join(out, 'results.json');
  const existing = readJson(path);
  const others = Object.fromEntries(
    Object.entries((existing.targets ?? {}) as Record<string, Target>).filter(([name]) => !part.owns(name)),
  );
  const targets = part.first ? { ...part.targets, ...others } : { ...others, ...part.targets };
  mkdirSync(out, { recursive: true });
  writeFileSync(path, `${JSON.stringify({ ...existing, ...part.fields, targets }, null, 2)}\n`);
  return path;
}

/**
 * Replaces the section `name` of `<out>/RESULTS.md` with `lines` (the first a `<!-- name:start …`
 * comment, the last `<!-- name:end -->`), or appends it; what lies outside the markers is kept.
 */
export function writeSection(out: string, name: string, lines: string[]): string {
  const path = join(out, 'RESULTS.md');
  let md: string;
  try {
    md = readFileSync(path, 'utf8');
  } catch {
    md = '# Benchmark results\n';
  }
  const section = lines.join('\n');
  const startMark = `<!-- ${name}:start`;
  const endMark = `<!-- ${name}:end -->`;
  const at = md.indexOf(startMark);
  const endAt = md.indexOf(endMark);
  md =
    at >= 0 && endAt > at
      ? md.slice(0, at) + section + md.slice(endAt + endMark.length)
      : `${md.trimEnd()}\n\n${section}\n`;
  mkdirSync(out, { recursive: true });
  writeFileSync(path, md);
  return path;
}

/** A section's targets as a Markdown table (a target not met in bold). */
export function targetsTable(targets: Record<string, Target>): string[] {
  return [
    '| target | wanted | measured | met |',
    '| --- | --- | --- | --- |',
    ...Object.entries(targets).map(
      ([k, t]) => `| ${k} | ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`,
    ),
  ];
}

/** The machine's load averages (1, 5, 15 min) as /proc/loadavg has them: how quiet a run was. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
