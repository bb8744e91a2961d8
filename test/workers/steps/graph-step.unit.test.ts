/**
 * The Graph steps of a full pull (workers/steps/graph-step.ts) on real kind runs, with a scripted
 * Graph connector and a recording run context: licences first, their SKUs giving the users their
 * licence view; each page written as it arrives; a kind that fails sweeps nothing and the others go on;
 * with delta seeding, a `latest` link taken before a delta kind is listed is saved once the kind
 * completed, never for a kind that failed, not for users when a users filter is set, and a link that
 * cannot be taken costs the pull nothing.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { GraphConnector, GraphKind } from '../../../connectors/graph/index.js';
import type { DeltaState } from '../../../connectors/mongo/index.js';
import { SyncError } from '../../../domain/errors.js';
import { KindRun } from '../../../workers/steps/kind-run.js';
import { runGraphSteps, type DeltaSeeding } from '../../../workers/steps/graph-step.js';
import { recordingContext } from '../support/recording-context.js';

const SKU = '11111111-1111-4111-8111-111111111111';

/** A Graph connector that serves the pages given per kind (an Error in the list is thrown there). */
function scriptedGraph(
  pages: Partial<Record<GraphKind, (Record<string, unknown>[] | Error)[]>>,
  latest: (source: 'users' | 'groups') => Promise<string> = async (source) =>
    `https://graph/${source}/delta?latest`,
) {
  const asked: string[] = [];
  const graph = {
    async *pages(kind: GraphKind) {
      asked.push(`pages:${kind}`);
      for (const page of pages[kind] ?? []) {
        if (page instanceof Error) throw page;
        yield page;
      }
    },
    delta: {
      latest: async (source: 'users' | 'groups') => {
        asked.push(`latest:${source}`);
        return latest(source);
      },
    },
  };
  return { graph: graph as unknown as GraphConnector, asked };
}

function steps() {
  const { ctx, calls } = recordingContext();
  const runs = new Map<string, KindRun>();
  const start = (kind: string) => {
    const run = new KindRun(kind, ctx, () => {}, { prepare: false });
    runs.set(kind, run);
    return run;
  };
  const saved: { kind: string; state: DeltaState }[] = [];
  const warnings: string[] = [];
  const seeding = (usersFiltered = false): DeltaSeeding => ({
    states: {
      read: async () => ({ state: undefined }),
      save: async (kind, state) => void saved.push({ kind, state }),
    },
    usersFiltered,
    log: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) }),
  });
  return { calls, runs, start, saved, warnings, seeding };
}

const signal = new AbortController().signal;

describe('the Graph steps of a full pull', () => {
  it('pull licences first, and the users get their licence view from them', async () => {
    const { graph, asked } = scriptedGraph({
      licences: [[{ skuId: SKU, skuPartNumber: 'ENTERPRISEPACK', servicePlans: [] }]],
      users: [[{ id: 'u1', assignedLicenses: [{ skuId: SKU }] }], [{ id: 'u2', assignedLicenses: [] }]],
      groups: [[{ id: 'g1' }]],
    });
    const { calls, runs, start } = steps();
    await runGraphSteps(graph, ['users', 'groups', 'licences'], start, signal);
    expect(asked.indexOf('pages:licences')).toBe(0);
    expect(calls.pageKinds[0]).toBe('licences');
    const users = calls.pages.filter((_, i) => calls.pageKinds[i] === 'users').flat();
    expect(users).toEqual([
      {
        id: 'u1',
        assignedLicenses: [{ skuId: SKU }],
        skuPartNumbers: ['ENTERPRISEPACK'],
        servicePlanNames: [],
      },
      { id: 'u2', assignedLicenses: [], skuPartNumbers: [], servicePlanNames: [] },
    ]);
    expect([...runs.values()].map((r) => [r.kind, r.outcome?.status])).toEqual([
      ['licences', 'succeeded'],
      ['users', 'succeeded'],
      ['groups', 'succeeded'],
    ]);
    expect(calls.swept.sort()).toEqual(['groups', 'licences', 'users']);
  });

  it('fail a kind whose pages fail, sweeping nothing of it, and go on with the others', async () => {
    const { graph } = scriptedGraph({
      users: [[{ id: 'u1' }], new SyncError('THROTTLED', 'Graph said slow down', { retryable: true })],
      groups: [[{ id: 'g1' }]],
    });
    const { calls, runs, start } = steps();
    await runGraphSteps(graph, ['users', 'groups'], start, signal);
    expect(runs.get('users')?.outcome).toMatchObject({
      status: 'failed',
      created: 1,
      error: { code: 'THROTTLED' },
    });
    expect(runs.get('groups')?.outcome?.status).toBe('succeeded');
    expect(calls.swept).toEqual(['groups']);
  });

  it('seed each delta kind: its latest link taken before listing, saved once it completed', async () => {
    const { graph, asked } = scriptedGraph({
      users: [[{ id: 'u1' }]],
      groups: [[{ id: 'g1' }]],
      teams: [[{ id: 'g1' }]],
    });
    const { saved, start, seeding } = steps();
    await runGraphSteps(graph, ['users', 'groups', 'teams'], start, signal, seeding());
    expect(asked.indexOf('latest:users')).toBeLessThan(asked.indexOf('pages:users'));
    expect(asked.indexOf('latest:groups')).toBeLessThan(asked.indexOf('pages:groups'));
    expect(saved.map((s) => [s.kind, s.state.link]).sort()).toEqual([
      ['groups', 'https://graph/groups/delta?latest'],
      ['teams', 'https://graph/groups/delta?latest'],
      ['users', 'https://graph/users/delta?latest'],
    ]);
    for (const { state } of saved) {
      expect(state.roundStartedAt).toBeInstanceOf(Date);
      expect(state.select).toEqual(expect.any(String));
    }
  });

  it('save no link for a kind that failed, none for filtered users, and go on when a link cannot be taken', async () => {
    const { graph, asked } = scriptedGraph(
      {
        users: [[{ id: 'u1' }]],
        groups: [new SyncError('PERMISSION', 'no Group.Read.All')],
        teams: [[{ id: 't1' }]],
      },
      async (source) => {
        if (source === 'groups') throw new SyncError('THROTTLED', 'later');
        return `https://graph/${source}/delta?latest`;
      },
    );
    const { saved, start, seeding, runs, warnings } = steps();
    await runGraphSteps(graph, ['users', 'groups', 'teams'], start, signal, seeding(true));
    expect(asked).not.toContain('latest:users');
    expect(runs.get('groups')?.outcome?.status).toBe('failed');
    expect(runs.get('teams')?.outcome?.status).toBe('succeeded');
    expect(saved).toEqual([]);
    expect(warnings.filter((w) => /could not take a delta link/.test(w))).toHaveLength(2);
  });
});
