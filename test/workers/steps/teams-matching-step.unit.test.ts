/**
 * Teams users matched to Entra users during a run (workers/steps/teams-matching-step.ts), on a real
 * kind run with a recording context and fake timers: the first page waits for the run's Graph users to
 * settle (bounded by the wait, cut short by the run's stop); users this run saw count when the Graph
 * users completed, the stored ones otherwise (read once); the option `skip` leaves the unmatched out;
 * the counts go into the kind's result.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoredKeys } from '../../../connectors/mongo/index.js';
import { KindRun } from '../../../workers/steps/kind-run.js';
import { attachTeamsMatching, type GraphUsersOutcome } from '../../../workers/steps/teams-matching-step.js';
import { recordingContext } from '../support/recording-context.js';

const WAIT_MS = 30_000;
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const teamsUser = (n: number) => ({ Identity: id(n).toUpperCase(), DisplayName: `Teams ${n}` });

/** Lets the transform's awaited look-ups run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('matching Teams users to Entra users', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A Teams users kind run with matching attached; the run saw `seen`, the store holds `stored`. */
  function matching(options: {
    graphUsers: Promise<GraphUsersOutcome>;
    seen?: number[];
    stored?: number[];
    option?: 'flag' | 'skip';
    signal?: AbortSignal;
  }) {
    const { ctx, calls } = recordingContext();
    const run = new KindRun('teams_users', ctx, () => {}, { prepare: false });
    const seen = new Set((options.seen ?? []).map(id));
    const stored = new Set((options.stored ?? []).map(id));
    const reads = { stored: 0, seen: 0 };
    attachTeamsMatching(run, {
      seenUser: async (externalId) => {
        reads.seen++;
        return seen.has(externalId);
      },
      storedUsers: async () => {
        reads.stored++;
        return { find: (externalId: string) => (stored.has(externalId) ? 0 : undefined) } as StoredKeys;
      },
      graphUsers: options.graphUsers,
      waitMs: WAIT_MS,
      option: options.option ?? 'flag',
      signal: options.signal ?? new AbortController().signal,
    });
    return { run, calls, reads };
  }

  it("waits for the run's Graph users, then matches only those this run saw", async () => {
    let graphDone!: (outcome: GraphUsersOutcome) => void;
    const graphUsers = new Promise<GraphUsersOutcome>((resolve) => (graphDone = resolve));
    const { run, calls, reads } = matching({ graphUsers, seen: [1, 2], stored: [1, 2, 3] });
    let written = false;
    const page = run.write([teamsUser(1), teamsUser(2), teamsUser(3)]).then(() => (written = true));
    await settle();
    expect(written).toBe(false);
    expect(calls.pages).toEqual([]);

    graphDone('completed');
    await page;
    expect(calls.pages[0]).toEqual([
      { ...teamsUser(1), entraUserId: id(1), noEntraMatch: false },
      { ...teamsUser(2), entraUserId: id(2), noEntraMatch: false },
      // Stored from yesterday, but not seen today: no match.
      { ...teamsUser(3), entraUserId: null, noEntraMatch: true },
    ]);
    expect(reads.stored).toBe(0);
    await run.write([teamsUser(4)]);
    expect(run.annotations.entraMatch).toEqual({ matched: 2, unmatched: 2, skipped: 0 });
    const result = await run.complete();
    expect(result.entraMatch).toEqual({ matched: 2, unmatched: 2, skipped: 0 });
  });

  it('matches the stored users, read once, when the Graph users failed or are not in the run', async () => {
    for (const outcome of ['failed', 'absent'] as const) {
      const { run, calls, reads } = matching({
        graphUsers: Promise.resolve(outcome),
        seen: [],
        stored: [1, 3],
      });
      await run.write([teamsUser(1), teamsUser(2)]);
      await run.write([teamsUser(3)]);
      expect(calls.pages.flat().map((d) => d.noEntraMatch)).toEqual([false, true, false]);
      expect(reads).toEqual({ stored: 1, seen: 0 });
    }
  });

  it('stops waiting after the wait, or at once when the run stops, and uses the stored users', async () => {
    const never = new Promise<GraphUsersOutcome>(() => {});
    const slow = matching({ graphUsers: never, seen: [1], stored: [1, 2] });
    const page = slow.run.write([teamsUser(1), teamsUser(2)]);
    await vi.advanceTimersByTimeAsync(WAIT_MS - 1);
    expect(slow.calls.pages).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await page;
    expect(slow.calls.pages[0]!.map((d) => d.noEntraMatch)).toEqual([false, false]);
    expect(slow.reads.stored).toBe(1);

    const stop = new AbortController();
    const stopped = matching({ graphUsers: never, stored: [2], signal: stop.signal });
    const stoppedPage = stopped.run.write([teamsUser(1), teamsUser(2)]);
    stop.abort();
    await stoppedPage;
    expect(stopped.calls.pages[0]!.map((d) => d.noEntraMatch)).toEqual([true, false]);
  });

  it('does not wait at all when the run stopped before its first page', async () => {
    const stop = new AbortController();
    stop.abort();
    const { run, calls } = matching({
      graphUsers: new Promise<GraphUsersOutcome>(() => {}),
      stored: [1],
      signal: stop.signal,
    });
    await run.write([teamsUser(1)]); // no timer moved: it must not wait for one
    expect(calls.pages[0]!.map((d) => d.noEntraMatch)).toEqual([false]);
  });

  it('with skip, leaves the unmatched out and counts them', async () => {
    const { run, calls } = matching({ graphUsers: Promise.resolve('completed'), seen: [2], option: 'skip' });
    await run.write([teamsUser(1), teamsUser(2), { DisplayName: 'no identity' }]);
    expect(calls.pages).toEqual([[{ ...teamsUser(2), entraUserId: id(2), noEntraMatch: false }]]);
    expect(run.received).toBe(3);
    expect(run.objects).toBe(1);
    expect(run.annotations.entraMatch).toEqual({ matched: 1, unmatched: 2, skipped: 2 });
  });
});
