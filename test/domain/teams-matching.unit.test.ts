import { describe, expect, it } from 'vitest';
import { generateDataset, teamsUsers } from '../../simulators/dataset.js';
import {
  UnmatchedTeamsUsersSchema,
  addMatchCounts,
  matchTeamsUser,
  matchTeamsUsers,
  teamsUserEntraId,
  teamsUserIds,
} from '../../domain/teams-matching.js';

const A = '11111111-2222-4333-8444-555555555555';
const B = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const ORPHAN = '99999999-9999-4999-8999-999999999999';

describe('teamsUserEntraId and teamsUserIds', () => {
  it('reads Identity as a lower-cased object id', () => {
    expect(teamsUserEntraId({ Identity: B.toUpperCase() })).toBe(B);
    expect(teamsUserEntraId({ Identity: ` ${A} ` })).toBe(A);
  });

  it('has no id for a missing or non-GUID Identity', () => {
    expect(teamsUserEntraId({})).toBeUndefined();
    expect(teamsUserEntraId({ Identity: 'sip:someone@example.com' })).toBeUndefined();
    expect(teamsUserEntraId({ Identity: 42 })).toBeUndefined();
  });

  it('collects the distinct ids of a page', () => {
    expect(teamsUserIds([{ Identity: A }, { Identity: A.toUpperCase() }, { Identity: B }, {}])).toEqual([
      A,
      B,
    ]);
  });
});

describe('matchTeamsUser', () => {
  it('links to the Graph user with the same object id, with a set or a function', () => {
    expect(matchTeamsUser({ Identity: A.toUpperCase() }, new Set([A]))).toEqual({
      entraUserId: A,
      noEntraMatch: false,
    });
    expect(matchTeamsUser({ Identity: B }, (id) => id === B)).toEqual({
      entraUserId: B,
      noEntraMatch: false,
    });
  });

  it('flags a Teams user with no Entra user', () => {
    expect(matchTeamsUser({ Identity: ORPHAN }, new Set([A]))).toEqual({
      entraUserId: null,
      noEntraMatch: true,
    });
    expect(matchTeamsUser({}, () => true)).toEqual({ entraUserId: null, noEntraMatch: true });
  });
});

describe('matchTeamsUsers', () => {
  const page = [
    { Identity: A, DisplayName: 'A' },
    { Identity: ORPHAN, DisplayName: 'Orphan' },
    { Identity: B, DisplayName: 'B' },
  ];
  const graph = new Set([A, B]);

  it('keeps unmatched users flagged by default and counts them', () => {
    const result = matchTeamsUsers(page, graph);
    expect(result.matched).toBe(2);
    expect(result.unmatched).toBe(1);
    expect(result.skipped).toBe(0);
    expect(result.documents).toEqual([
      { Identity: A, DisplayName: 'A', entraUserId: A, noEntraMatch: false },
      { Identity: ORPHAN, DisplayName: 'Orphan', entraUserId: null, noEntraMatch: true },
      { Identity: B, DisplayName: 'B', entraUserId: B, noEntraMatch: false },
    ]);
  });

  it('leaves unmatched users out when the tenant says skip', () => {
    const result = matchTeamsUsers(page, graph, 'skip');
    expect(result).toMatchObject({ matched: 2, unmatched: 1, skipped: 1 });
    expect(result.documents.map((d) => d.DisplayName)).toEqual(['A', 'B']);
  });

  it('does not change the documents it is given', () => {
    matchTeamsUsers(page, graph);
    expect(page[0]).not.toHaveProperty('entraUserId');
  });

  it('adds page counts into a run total', () => {
    const one = matchTeamsUsers(page, graph, 'skip');
    const two = matchTeamsUsers(page.slice(0, 1), graph, 'skip');
    expect(addMatchCounts(addMatchCounts({ matched: 0, unmatched: 0, skipped: 0 }, one), two)).toEqual({
      matched: 3,
      unmatched: 1,
      skipped: 1,
    });
  });
});

describe('the tenant option', () => {
  it('defaults to flag and accepts only flag or skip', () => {
    expect(UnmatchedTeamsUsersSchema.parse(undefined)).toBe('flag');
    expect(UnmatchedTeamsUsersSchema.parse('skip')).toBe('skip');
    const bad = UnmatchedTeamsUsersSchema.safeParse('drop');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/must be flag .* or skip/);
  });
});

describe('matching on the simulated data set', () => {
  const ds = generateDataset({ seed: 3 });
  const teams = teamsUsers(ds);

  it('matches every simulated Teams user to its Graph user', () => {
    const graph = new Set(ds.users.map((u) => u.id.toLowerCase()));
    const result = matchTeamsUsers(teams, graph);
    expect(teams.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ matched: teams.length, unmatched: 0, skipped: 0 });
    for (const doc of result.documents) expect(doc.entraUserId).toBe(String(doc.Identity).toLowerCase());
  });

  it('finds exactly the Teams users whose Graph user is gone', () => {
    const gone = new Set(ds.users.slice(0, Math.floor(ds.users.length / 2)).map((u) => u.id));
    const remaining = new Set(ds.users.filter((u) => !gone.has(u.id)).map((u) => u.id.toLowerCase()));
    const expectedUnmatched = teams.filter((t) => gone.has(String(t.Identity))).length;
    expect(expectedUnmatched).toBeGreaterThan(0);
    const flagged = matchTeamsUsers(teams, remaining);
    expect(flagged.unmatched).toBe(expectedUnmatched);
    expect(flagged.documents).toHaveLength(teams.length);
    expect(flagged.documents.filter((d) => d.noEntraMatch).map((d) => d.Identity)).toEqual(
      teams.filter((t) => gone.has(String(t.Identity))).map((t) => t.Identity),
    );
    const skipped = matchTeamsUsers(teams, remaining, 'skip');
    expect(skipped.documents).toHaveLength(teams.length - expectedUnmatched);
  });
});
