/**
 * Redis Cluster hash tags. On a cluster, keys that one Lua script or one BullMQ command touches
 * together must live in one hash slot; Redis hashes only the part of a key between the first `{` and
 * the next `}` (its hash tag) when that part is not empty. So:
 * - the BullMQ prefix carries a tag (`{m365sync}`): every key of every queue lands in that tag's slot;
 * - each Graph limiter's keys are tagged by their tenant (`m365sync:graph:{<tenant id>}`), so the
 *   tenants' limiters spread over the masters (the prefix's own braces are dropped there, else its tag
 *   would win and put them all in the queues' slot).
 * Keys that every script touches alone (shell and session slots, the app budget, the leader lock) need
 * no tag.
 */

/** The hash tag of a key (the part Redis hashes), or undefined when the key has none. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The prefix as it is when it has a hash tag, else wrapped in braces (`m365sync` → `{m365sync}`). */
export function withHashTag(prefix: string): string {
  return hashTagOf(prefix) === undefined ? `{${prefix.replace(/[{}]/g, '')}}` : prefix;
}

/** The prefix without braces, for keys that carry a hash tag of their own after it. */
export function withoutHashTag(prefix: string): string {
  return prefix.replace(/[{}]/g, '');
}
