/**
 * `npm run bench -- --freshness --quick` completes, holds the change feed to the changes made and
 * writes its part of results.json and RESULTS.md, keeping the nightly benchmark's part. No speed is
 * asserted (the benchmark measures it); what is asserted is correctness: the delta run's change
 * records are exactly the changes made, and a full pull after it finds nothing to change.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv } from '../support/env.js';

describe('the freshness benchmark, quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-freshness-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('lands exactly the changes made and writes its results beside the nightly ones', async () => {
    // What an earlier nightly benchmark left: it stays.
    const nightlyTarget = { target: '<= 300', measured: 200, met: true };
    writeFileSync(
      join(out, 'results.json'),
      JSON.stringify({
        command: 'npm run bench',
        sizes: { 1000: {} },
        targets: { peak_rss_mb_1000: nightlyTarget },
      }),
    );
    writeFileSync(
      join(out, 'RESULTS.md'),
      '# Benchmark results\n\n<!-- nightly:start -->\nnightly table\n<!-- nightly:end -->\n\nnightly analysis\n',
    );
    const env = testEnv();
    await promisify(execFile)('npx', ['tsx', 'bench/freshness.ts', '--quick', '--out', out], {
      env: { ...process.env, MONGODB_URI: env.mongoUri, REDIS_URL: env.redisUrl },
      timeout: 240_000,
    });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      command: string;
      sizes: Record<string, unknown>;
      targets: Record<string, { target: string; measured: number; met: boolean }>;
      freshness: {
        users: number;
        median: Record<string, number>;
        cycleResults: {
          delta: { kinds: Record<string, { sync?: string }>; graph: { requests: number; bytes: number } };
          full: { graph: { requests: number; bytes: number } };
          feed: {
            records: Record<string, Record<string, number>>;
            made: Record<string, Record<string, number>>;
          };
        }[];
      };
    };
    expect(results.command).toBe('npm run bench');
    expect(Object.keys(results.sizes)).toEqual(['1000']);
    expect(results.targets.peak_rss_mb_1000).toEqual(nightlyTarget);
    const { freshness } = results;
    expect(freshness.users).toBe(2000);
    const [cycle] = freshness.cycleResults;
    for (const kind of ['users', 'groups', 'teams'])
      expect(cycle!.delta.kinds[kind]?.sync, kind).toBe('delta');
    // 0.5 % of 2,000 users changed, 0.1 % removed, 0.1 % added: the feed says so, kind by kind.
    expect(cycle!.feed.records.users).toEqual({ created: 2, updated: 10, deleted: 2 });
    expect(cycle!.feed.records).toEqual(cycle!.feed.made);
    expect(cycle!.delta.graph.requests).toBeGreaterThan(0);
    expect(cycle!.full.graph.requests).toBeGreaterThan(cycle!.delta.graph.requests);
    expect(cycle!.full.graph.bytes).toBeGreaterThan(cycle!.delta.graph.bytes);
    const names = Object.keys(results.targets).filter((n) => n.startsWith('freshness_'));
    expect(names.sort()).toEqual([
      'freshness_change_feed_errors',
      'freshness_delta_graph_requests_vs_full_pull',
      'freshness_delta_wall_time_vs_full_pull_graph_time',
      'freshness_full_pull_after_delta_changes',
    ]);
    expect(results.targets.freshness_change_feed_errors).toEqual({ target: '== 0', measured: 0, met: true });
    expect(results.targets.freshness_full_pull_after_delta_changes).toMatchObject({ measured: 0, met: true });
    for (const name of names) expect(Number.isFinite(results.targets[name]!.measured), name).toBe(true);
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('nightly table');
    expect(md).toContain('nightly analysis');
    expect(md).toContain('## Freshness: a delta run against a full pull');
    expect(md.indexOf('nightly analysis')).toBeLessThan(md.indexOf('<!-- freshness:start'));
  }, 300_000);
});
