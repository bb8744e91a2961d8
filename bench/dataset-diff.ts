/**
 * What a change to the simulated tenant's data set changed, as Graph shows it to the engine: per
 * Graph kind, the objects created, updated (a property the engine selects differs) and deleted. The
 * freshness benchmark (bench/freshness.ts) holds the change feed to this, independently of the store:
 * it is worked out from the two data sets, never from what the engine wrote.
 */
import { GROUP_SELECT, LICENCE_SELECT, TEAM_SELECT, USER_SELECT } from '../connectors/graph/index.js';
import type { Dataset } from '../simulators/dataset.js';
import { graphGroup, graphSku, graphUser, project } from '../simulators/graph/collections.js';

export const GRAPH_DIFF_KINDS = ['users', 'groups', 'teams', 'licences'] as const;
export type GraphDiffKind = (typeof GRAPH_DIFF_KINDS)[number];

export interface KindDiff {
  created: string[];
  updated: string[];
  deleted: string[];
}

export interface DatasetDiff {
  kinds: Record<GraphDiffKind, KindDiff>;
  /** Of the users deleted: how many went to the recycle bin (soft); the others are gone for good. */
  usersSoftDeleted: number;
}

/** Each kind's objects as the engine selects them, by the id the store keys them with. */
function graphViews(ds: Dataset): Record<GraphDiffKind, Map<string, string>> {
  const view = (objects: Iterable<[string, Record<string, unknown>]>) =>
    new Map([...objects].map(([id, o]) => [id, JSON.stringify(o)]));
  const isTeam = (g: Dataset['groups'][number]) => g.resourceProvisioningOptions.includes('Team');
  return {
    users: view(ds.users.map((u) => [u.id, project(graphUser(u), [...USER_SELECT])])),
    groups: view(ds.groups.map((g) => [g.id, project(graphGroup(g), [...GROUP_SELECT])])),
    teams: view(ds.groups.filter(isTeam).map((g) => [g.id, project(graphGroup(g), [...TEAM_SELECT])])),
    licences: view(ds.skus.map((s) => [s.skuId, project(graphSku(ds, s), [...LICENCE_SELECT])])),
  };
}

export function datasetDiff(before: Dataset, after: Dataset): DatasetDiff {
  const [was, is] = [graphViews(before), graphViews(after)];
  const kinds = {} as Record<GraphDiffKind, KindDiff>;
  for (const kind of GRAPH_DIFF_KINDS) {
    const diff: KindDiff = { created: [], updated: [], deleted: [] };
    for (const [id, now] of is[kind]) {
      const then = was[kind].get(id);
      if (then === undefined) diff.created.push(id);
      else if (then !== now) diff.updated.push(id);
    }
    for (const id of was[kind].keys()) if (!is[kind].has(id)) diff.deleted.push(id);
    kinds[kind] = diff;
  }
  const binned = new Set((after.deletedItems?.users ?? []).map((u) => u.id));
  return { kinds, usersSoftDeleted: kinds.users.deleted.filter((id) => binned.has(id)).length };
}
