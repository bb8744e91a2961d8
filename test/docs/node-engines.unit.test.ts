/**
 * The Node versions package.json promises (README: Node 20.19+ or 22.13+) are the ones every installed
 * package accepts: `npm ci` on the lowest of each line prints no EBADENGINE. Checked against
 * package-lock.json's `engines` with a small reader of the range forms it holds.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

type Version = [number, number, number];

/** Whether `version` satisfies an npm range of the forms in the lock file (no prereleases, no hyphens). */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean);
    return comparators.every((c) => comparatorHolds(version, c));
  });
}

function comparatorHolds(v: Version, comparator: string): boolean {
  if (comparator === '*') return true;
  const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(comparator);
  if (!m) throw new Error(`range form not understood: ${comparator}`);
  const op = m[1] ?? '';
  const parts = [m[2], m[3], m[4]].map((p) => (p === undefined || p === 'x' ? undefined : Number(p)));
  const low: Version = [parts[0]!, parts[1] ?? 0, parts[2] ?? 0];
  const cmp = compare(v, low);
  if (op === '>=') return cmp >= 0;
  if (op === '>') return cmp > 0;
  if (op === '<=') return cmp <= 0;
  if (op === '<') return cmp < 0;
  if (op === '^') return cmp >= 0 && v[0] === low[0];
  if (op === '~') return cmp >= 0 && v[0] === low[0] && v[1] === low[1];
  // `20`, `10.x`, `=1.2.3`: the parts given must match.
  return parts.every((p, i) => p === undefined || v[i] === p);
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
/** The lowest version of each line package.json allows: `^20.19.0 || >=22.13.0` → 20.19.0, 22.13.0. */
const lowest = pkg.engines.node
  .split('||')
  .map((alternative) => /(\d+)\.(\d+)\.(\d+)/.exec(alternative)!.slice(1).map(Number) as Version);

describe('Node versions', () => {
  it('the range reader', () => {
    expect(satisfies([20, 19, 0], '>=22')).toBe(false);
    expect(satisfies([20, 19, 0], '>= 10.x')).toBe(true);
    expect(satisfies([20, 19, 0], '18 || 20 || >=22')).toBe(true);
    expect(satisfies([20, 19, 0], '^20.19.0 || ^22.13.0 || >=24')).toBe(true);
    expect(satisfies([22, 12, 0], '^20.19.0 || ^22.13.0 || >=24')).toBe(false);
    expect(satisfies([20, 19, 0], '>=16 || 14 >=14.17')).toBe(true);
    expect(satisfies([20, 19, 0], '>=20.18.1')).toBe(true);
    expect(satisfies([20, 17, 0], '>=20.18.1')).toBe(false);
    expect(lowest).toEqual([
      [20, 19, 0],
      [22, 13, 0],
    ]);
  });

  it.each(lowest.map((v) => v.join('.')))('every locked package accepts Node %s', (text) => {
    const version = text.split('.').map(Number) as Version;
    const refusing = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !Array.isArray(p.engines) && p.engines?.node)
      .filter(([, p]) => !satisfies(version, (p.engines as { node: string }).node))
      .map(([path, p]) => `${path}@${p.version} (node ${(p.engines as { node: string }).node})`);
    expect(refusing).toEqual([]);
  });
});
