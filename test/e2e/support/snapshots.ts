/**
 * The e2e tests' oracle for what a run changed: the store read in full before and after the run, and
 * the changes the two snapshots differ by, one `kind op id` line each; and what the change feed holds.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeCursor, type Change } from '../../../domain/changes.js';
import { ENTITY_KIND_NAMES, entityKind } from '../../../domain/entity-kinds.js';
import type { Engine } from './engine.js';

/** Per kind, the stored objects of a tenant by external id. */
export type Snapshot = Record<string, Map<string, Record<string, unknown>>>;

/** Every stored object of the tenant, of the given kinds (default: every kind). */
export async function storeSnapshot(
  engine: Engine,
  tenantId: string,
  kinds: readonly string[] = ENTITY_KIND_NAMES,
): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const kind of kinds) {
    const { idProperty } = entityKind(kind);
    const objects = new Map<string, Record<string, unknown>>();
    for await (const o of engine.stores.objects.objects(kind, tenantId))
      objects.set(String(o[idProperty]), o);
    out[kind] = objects;
  }
  return out;
}

/**
 * What a run must have recorded, from two snapshots of the same kinds: `kind op id`, sorted; with
 * `fields`, an update also names the top-level fields that changed (`kind updated id a,b`).
 */
export function expectedChanges(
  before: Snapshot,
  after: Snapshot,
  options: { fields?: boolean } = {},
): string[] {
  const out: string[] = [];
  for (const kind of Object.keys(before)) {
    const was = before[kind]!;
    const is = after[kind]!;
    for (const [id, object] of is) {
      const old = was.get(id);
      if (!old) out.push(`${kind} created ${id}`);
      else if (!isDeepStrictEqual(old, object)) {
        if (!options.fields) {
          out.push(`${kind} updated ${id}`);
          continue;
        }
        const names = [...new Set([...Object.keys(old), ...Object.keys(object)])]
          .filter((name) => !isDeepStrictEqual(old[name], object[name]))
          .sort();
        out.push(`${kind} updated ${id} ${names.join(',')}`);
      }
    }
    for (const id of was.keys()) if (!is.has(id)) out.push(`${kind} deleted ${id}`);
  }
  return out.sort();
}

/** Every committed change of the tenant after the cursor `after`, read `pageSize` at a time. */
export async function committedChanges(
  engine: Engine,
  tenantId: string,
  after = 0,
  pageSize = 100,
): Promise<Change[]> {
  const all: Change[] = [];
  let cursor = after;
  for (;;) {
    const page = await engine.stores.changes.page(tenantId, { after: cursor, limit: pageSize });
    all.push(...page.changes);
    cursor = decodeCursor(page.cursor);
    if (!page.more) return all;
  }
}
