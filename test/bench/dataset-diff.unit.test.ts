/**
 * The freshness benchmark's account of what a data set change did (bench/dataset-diff.ts): worked out
 * from the two data sets, per Graph kind, it is what the change feed is held to.
 */
import { describe, expect, it } from 'vitest';
import { datasetDiff } from '../../bench/dataset-diff.js';
import { changeDataset, generateDataset } from '../../simulators/dataset.js';

describe('the Graph-visible difference of two data sets', () => {
  const before = generateDataset({ seed: 3, users: 400 });

  it('finds no change between a data set and itself', () => {
    const diff = datasetDiff(before, structuredClone(before));
    for (const kind of Object.values(diff.kinds))
      expect(kind).toEqual({ created: [], updated: [], deleted: [] });
    expect(diff.usersSoftDeleted).toBe(0);
  });

  it('names exactly the users added, changed (renamed or licence) and removed (soft or hard)', () => {
    const after = changeDataset(
      before,
      { renameUsers: 3, licenseUsers: 2, unlicenseUsers: 2, softDeleteUsers: 2, removeUsers: 1, addUsers: 4 },
      77,
    );
    const { kinds, usersSoftDeleted } = datasetDiff(before, after);
    const ids = (list: { id: string }[]) => list.map((u) => u.id);
    expect(kinds.users.created.sort()).toEqual(ids(after.users.slice(-4)).sort());
    expect(kinds.users.deleted.sort()).toEqual(ids(before.users.slice(-3)).sort());
    expect(usersSoftDeleted).toBe(2);
    expect(kinds.users.updated).toHaveLength(3 + 2 + 2);
    expect(kinds.users.updated).toEqual(expect.arrayContaining(ids(before.users.slice(0, 3))));
    // Licence changes move the SKUs' consumed units; groups and teams keep their properties (members
    // are not among the properties the engine selects).
    expect(kinds.licences.updated.length).toBeGreaterThan(0);
    expect(kinds.groups).toEqual({ created: [], updated: [], deleted: [] });
    expect(kinds.teams).toEqual({ created: [], updated: [], deleted: [] });
  });

  it('sees groups and teams renamed', () => {
    const after = changeDataset(before, { renameGroups: 2 }, 78);
    const { kinds } = datasetDiff(before, after);
    expect(kinds.groups.updated).toEqual(before.groups.slice(0, 2).map((g) => g.id));
    // The first groups of a generated data set are its teams.
    expect(kinds.teams.updated).toEqual(before.groups.slice(0, 2).map((g) => g.id));
    expect(kinds.users).toEqual({ created: [], updated: [], deleted: [] });
  });
});
