/** Which top-level fields of an imported object changed, for the change feed's `updated` records. */
import { canonicalJson } from './content-hash.js';

/**
 * The top-level fields whose values differ between the stored and the incoming object (sorted): a
 * field present on one side only counts as changed. Compared as canonical JSON, as the content hash
 * is, so key order inside a value does not count.
 */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed: string[] = [];
  for (const name of names) {
    const had = Object.hasOwn(before, name);
    const has = Object.hasOwn(after, name);
    if (had !== has || canonicalJson(before[name]) !== canonicalJson(after[name])) changed.push(name);
  }
  return changed.sort();
}
