/**
 * `npm run bench -- --quick` completes and writes well-formed results (no figure is asserted: speed
 * is measured by the benchmark, not by tests).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv } from '../support/env.js';

describe('the nightly benchmark, quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs and writes results.json with every target and RESULTS.md with its section', async () => {
    const env = testEnv();
    await promisify(execFile)('npx', ['tsx', 'bench/nightly.ts', '--quick', '--out', out], {
      env: { ...process.env, MONGODB_URI: env.mongoUri, REDIS_URL: env.redisUrl },
      timeout: 240_000,
    });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      sizes: Record<string, { median: Record<string, number> }>;
      targets: Record<string, { target: string; measured: number; met: boolean }>;
      pacing: Record<string, number>;
    };
    expect(Object.keys(results.sizes)).toEqual(['200', '1000']);
    for (const size of Object.values(results.sizes)) {
      expect(size.median.objects).toBeGreaterThan(0);
      expect(size.median.lowerBoundSeconds).toBeGreaterThan(0);
    }
    const names = Object.keys(results.targets);
    for (const prefix of [
      'unchanged_resync_vs_lower_bound_',
      'unchanged_resync_vs_first_pull_',
      'store_phase_vs_ceiling_',
      'time_per_object_first_',
      'time_per_object_unchanged_',
      'time_per_object_changed_',
      'peak_rss_mb_',
      'peak_rss_ratio_',
    ])
      expect(
        names.some((n) => n.startsWith(prefix)),
        prefix,
      ).toBe(true);
    for (const t of Object.values(results.targets)) {
      expect(typeof t.target).toBe('string');
      expect(Number.isFinite(t.measured)).toBe(true);
      expect(typeof t.met).toBe('boolean');
    }
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('## Nightly re-sync against the lower bound');
    expect(md).toContain('| target | wanted | measured | met |');
  }, 300_000);
});
