/**
 * The Graph part of a delta run (workers/steps/delta-step.ts) on real kind runs, with a scripted
 * Graph connector, scripted delta states and a recording run context: a round's partial objects are
 * merged into their stored versions and written, what it removed (and did not bring back) is swept,
 * and the state moves on only once the round was written; a kind without a usable state, or whose
 * state Graph refuses, is pulled in full in the same run, saying why; a round that fails otherwise
 * fails its kind, pulls nothing instead and keeps the old state.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  DELTA_SELECT,
  type DeltaPage,
  type GraphConnector,
  type GraphKind,
} from '../../../connectors/graph/index.js';
import type { DeltaState, DeltaStateRead } from '../../../connectors/mongo/index.js';
import { SyncError } from '../../../domain/errors.js';
import type { TenantConfig } from '../../../domain/tenant.js';
import { runDeltaSteps } from '../../../workers/steps/delta-step.js';
import { KindRun } from '../../../workers/steps/kind-run.js';
import { recordingContext } from '../support/recording-context.js';

const GRAPH = 'https://graph.microsoft.com';
const SAVED = `${GRAPH}/v1.0/users/delta?$deltatoken=saved`;
const NEXT = `${GRAPH}/v1.0/users/delta?$deltatoken=next`;
const tenant = { 'Microsoft 365': {} } as unknown as TenantConfig;

const usableState = (kind: 'users' | 'groups'): DeltaStateRead => ({
  state: { link: SAVED, select: DELTA_SELECT[kind], roundStartedAt: new Date() },
});

/** A Graph connector whose users round serves `round` (an Error in it is thrown there). */
function scriptedGraph(
  round: (DeltaPage | Error)[],
  options: { deltaLink?: string; full?: Record<string, unknown>[] } = {},
) {
  const asked: string[] = [];
  const graph = {
    async *pages(kind: GraphKind) {
      asked.push(`full:${kind}`);
      yield options.full ?? [];
    },
    delta: {
      latest: async (kind: string) => {
        asked.push(`latest:${kind}`);
        return `${GRAPH}/v1.0/${kind}/delta?$deltatoken=latest`;
      },
      round: (kind: string, o: { link?: string }) => {
        asked.push(`round:${kind}:${o.link}`);
        let deltaLink: string | undefined;
        return {
          pages: (async function* () {
            for (const page of round) {
              if (page instanceof Error) throw page;
              yield page;
            }
            deltaLink = 'deltaLink' in options ? options.deltaLink : NEXT;
          })(),
          get deltaLink() {
            return deltaLink;
          },
        };
      },
    },
  };
  return { graph: graph as unknown as GraphConnector, asked };
}

function deltaRun(
  graph: GraphConnector,
  read: DeltaStateRead,
  stored: Record<string, Record<string, unknown>>,
) {
  const { ctx, calls } = recordingContext();
  const runs = new Map<string, KindRun>();
  const saved: { kind: string; state: DeltaState }[] = [];
  const prepared: string[] = [];
  const run = () =>
    runDeltaSteps({
      graph,
      kinds: ['users'],
      start: (kind) => {
        const made = new KindRun(kind, ctx, () => {}, { prepare: false });
        runs.set(kind, made);
        return made;
      },
      states: {
        read: async () => read,
        save: async (kind, state) => void saved.push({ kind, state }),
      },
      ctx: {
        namedOnly: () => {},
        prepare: async (kind) => void prepared.push(kind),
        storedData: async (_kind, ids) =>
          new Map(ids.filter((id) => stored[id]).map((id) => [id, { ...stored[id]! }])),
      },
      tenant,
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
    });
  return { run, runs, calls, saved, prepared };
}

describe('the Graph part of a delta run', () => {
  it('merges a round into the stored objects, sweeps what it removed, then moves the state on', async () => {
    const { graph, asked } = scriptedGraph([
      { changed: [{ id: 'u1', displayName: 'Renamed' }], removed: [{ id: 'u2', reason: 'deleted' }] },
      // u3 removed, then back in a later page: the last word wins.
      { changed: [], removed: [{ id: 'u3', reason: 'changed' }] },
      { changed: [{ id: 'u3', jobTitle: 'Back' }], removed: [] },
    ]);
    const stored = {
      u1: { id: 'u1', displayName: 'Old', mail: 'u1@x' },
      u3: { id: 'u3', displayName: 'Three' },
    };
    const { run, runs, calls, saved } = deltaRun(graph, usableState('users'), stored);
    await run();
    expect(asked).toEqual([`round:users:${SAVED}`]);
    const written = calls.pages.flat();
    expect(written.find((u) => u.id === 'u1')).toMatchObject({ displayName: 'Renamed', mail: 'u1@x' });
    expect(written.find((u) => u.id === 'u3')).toMatchObject({ displayName: 'Three', jobTitle: 'Back' });
    expect(calls.keptAllBut).toEqual([new Set(['u2'])]);
    expect(calls.swept).toEqual(['users']);
    expect(runs.get('users')?.outcome).toMatchObject({ status: 'succeeded', sync: 'delta' });
    expect(saved).toEqual([
      { kind: 'users', state: { link: NEXT, select: DELTA_SELECT.users, roundStartedAt: expect.any(Date) } },
    ]);
  });

  it('pulls a kind without a usable state in full, saying why, and seeds a new state', async () => {
    const { graph, asked } = scriptedGraph([], { full: [{ id: 'u1' }] });
    const { run, runs, saved, prepared } = deltaRun(graph, { state: undefined }, {});
    await run();
    expect(asked).toEqual(['latest:users', 'full:users']);
    expect(prepared).toEqual(['users']);
    expect(runs.get('users')?.outcome).toMatchObject({
      status: 'succeeded',
      sync: 'full',
      fallback: { reason: 'no_state' },
    });
    expect(saved.map((s) => s.state.link)).toEqual([`${GRAPH}/v1.0/users/delta?$deltatoken=latest`]);
  });

  it('pulls a kind in full in the same run when Graph refuses its state', async () => {
    const { graph, asked } = scriptedGraph(
      [
        { changed: [{ id: 'u1', displayName: 'Renamed' }], removed: [] },
        new SyncError('DELTA_RESYNC_REQUIRED', 'Gone'),
      ],
      { full: [{ id: 'u1' }] },
    );
    const { run, runs } = deltaRun(graph, usableState('users'), { u1: { id: 'u1' } });
    await run();
    expect(asked).toEqual([`round:users:${SAVED}`, 'latest:users', 'full:users']);
    expect(runs.get('users')?.outcome).toMatchObject({
      status: 'succeeded',
      sync: 'full',
      fallback: { reason: 'resync' },
    });
  });

  it('fails a kind whose round fails otherwise, pulling nothing instead and keeping the old state', async () => {
    const cases: [(DeltaPage | Error)[], string | undefined, string][] = [
      [[new SyncError('THROTTLED', 'slow down', { retryable: true })], NEXT, 'THROTTLED'],
      // A round that ends without a delta link.
      [[{ changed: [{ id: 'u1' }], removed: [] }], undefined, 'GRAPH_REQUEST'],
    ];
    for (const [round, deltaLink, code] of cases) {
      const { graph, asked } = scriptedGraph(round, { deltaLink });
      const { run, runs, calls, saved } = deltaRun(graph, usableState('users'), {});
      await run();
      expect(asked.filter((a) => a.startsWith('full:'))).toEqual([]);
      expect(runs.get('users')?.outcome).toMatchObject({ status: 'failed', error: { code } });
      expect(calls.swept).toEqual([]);
      expect(saved).toEqual([]);
    }
  });
});
