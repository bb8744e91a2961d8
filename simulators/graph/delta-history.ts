/**
 * What the simulated directory looked like at every point a delta token can name: each time the data
 * set changes (setDataset), the users and groups that differ get a new version under one new sequence
 * number. A delta round from sequence `a` to `b` is then the difference, per object, between its
 * version at `a` and at `b` (changed properties, membership added and removed, soft or hard removal),
 * which is what Graph's delta query reports ("Use delta query to track changes", learn.microsoft.com).
 */
import type { Dataset } from '../dataset.js';
import { graphGroup, graphUser, type GraphObject } from './collections.js';

export type DeltaKind = 'users' | 'groups';

/** `active`: listed; `soft`: in the recycle bin (removed, reason `changed`); `hard`: gone (`deleted`). */
export type ObjectStatus = 'active' | 'soft' | 'hard';

export interface Version {
  seq: number;
  status: ObjectStatus;
  /** The object as Graph shapes it, when active. */
  obj?: GraphObject;
  /** Groups: the active users among its members, sorted. */
  members?: string[];
}

/** An object's state at a sequence number; `absent` when it did not exist yet or was gone for good. */
export type State = { status: 'absent' } | Version;

export class DeltaHistory {
  /** The newest sequence number; 0 until the first data set is recorded. */
  seq = 0;
  private readonly versions: Record<DeltaKind, Map<string, Version[]>> = {
    users: new Map(),
    groups: new Map(),
  };
  /** Ids in the order first seen: the order of a first round, as the data set lists them. */
  private readonly order: Record<DeltaKind, string[]> = { users: [], groups: [] };
  /** Ids that got a version at each sequence number, per kind. */
  private readonly changedAt: Record<DeltaKind, Map<number, string[]>> = {
    users: new Map(),
    groups: new Map(),
  };

  /** Records a data set: objects that differ from their last version get one under a new number. */
  record(ds: Dataset): void {
    const seq = this.seq + 1;
    const activeUsers = new Set(ds.users.map((u) => u.id));
    let changed = this.recordKind(
      'users',
      seq,
      ds.users.map((u) => ({ id: u.id, obj: graphUser(u) })),
      (ds.deletedItems?.users ?? []).map((u) => u.id),
    );
    changed =
      this.recordKind(
        'groups',
        seq,
        ds.groups.map((g) => ({
          id: g.id,
          obj: graphGroup(g),
          members: [...new Set((g.members ?? []).filter((m) => activeUsers.has(m)))].sort(),
        })),
        (ds.deletedItems?.groups ?? []).map((g) => g.id),
      ) || changed;
    // The first data set is sequence 1 even when empty; later ones only when something changed.
    if (changed || this.seq === 0) this.seq = seq;
  }

  private recordKind(
    kind: DeltaKind,
    seq: number,
    active: { id: string; obj: GraphObject; members?: string[] }[],
    soft: string[],
  ): boolean {
    const versions = this.versions[kind];
    const ids: string[] = [];
    const add = (id: string, v: Version) => {
      let list = versions.get(id);
      if (!list) {
        versions.set(id, (list = []));
        this.order[kind].push(id);
      }
      list.push(v);
      ids.push(id);
    };
    const seen = new Set<string>();
    for (const { id, obj, members } of active) {
      seen.add(id);
      const last = versions.get(id)?.at(-1);
      if (last?.status === 'active' && sameJson(last.obj, obj) && sameJson(last.members, members)) continue;
      add(id, { seq, status: 'active', obj, ...(members ? { members } : {}) });
    }
    for (const id of soft) {
      if (seen.has(id)) continue; // listed and in the bin: a malformed data set; listed wins
      seen.add(id);
      if (versions.get(id)?.at(-1)?.status !== 'soft') add(id, { seq, status: 'soft' });
    }
    for (const [id, list] of versions) {
      if (!seen.has(id) && list.at(-1)!.status !== 'hard') add(id, { seq, status: 'hard' });
    }
    if (ids.length > 0) this.changedAt[kind].set(seq, ids);
    return ids.length > 0;
  }

  stateAt(kind: DeltaKind, id: string, seq: number): State {
    const list = this.versions[kind].get(id);
    if (!list) return { status: 'absent' };
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.seq <= seq) return list[i]!;
    return { status: 'absent' };
  }

  /** Whether the property ever had a value (not null) up to `seq`: Graph omits ones never set. */
  everSet(kind: DeltaKind, id: string, property: string, seq: number): boolean {
    for (const v of this.versions[kind].get(id) ?? []) {
      if (v.seq <= seq && v.obj && v.obj[property] !== null && v.obj[property] !== undefined) return true;
    }
    return false;
  }

  /** Ids active at `seq`, in the data set's order. */
  activeAt(kind: DeltaKind, seq: number): string[] {
    return this.order[kind].filter((id) => this.stateAt(kind, id, seq).status === 'active');
  }

  /** Ids with a version after `from` up to `to`, in first-seen order. */
  changedBetween(kind: DeltaKind, from: number, to: number): string[] {
    const ids = new Set<string>();
    for (let s = from + 1; s <= to; s++) for (const id of this.changedAt[kind].get(s) ?? []) ids.add(id);
    return [...ids];
  }
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
