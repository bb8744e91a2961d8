/**
 * Delta sync's rules (docs/delta.md): which kinds a delta run covers, when a kind's saved delta state
 * cannot be used and the kind falls back to a full pull of itself in the same run, and how a partial
 * object of a round is merged into the stored one.
 */
export const SYNC_MODES = ['full', 'delta'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

/**
 * The kinds of a delta run: users and groups by delta rounds, teams from the groups' round, licences
 * (subscribedSkus has no delta) polled in full: one small request, and the users' licence view needs it.
 * Teams users, the voice kinds and Exchange stay on the full pull (Get-CsOnlineUser cannot filter on
 * WhenChanged).
 */
export const DELTA_RUN_KINDS = ['licences', 'users', 'groups', 'teams'] as const;

export const DELTA_FALLBACK_REASONS = [
  /** No state saved yet (no full pull of the kind since delta existed, or the kind was purged). */
  'no_state',
  /** The stored link does not decrypt with the keys in M365SYNC_ENCRYPTION_KEYS. */
  'unreadable',
  /** The link was made with another `$select` than this version asks for. */
  'select_changed',
  /** The link names another Graph host than the tenant's connection does now (graph_base_url changed). */
  'other_host',
  /** The link is older than Graph keeps delta state (7 days for directory objects). */
  'too_old',
  /** Graph answered 400 syncStateNotFound. */
  'expired',
  /** Graph answered 410 Gone: it asks for a full resynchronisation. */
  'resync',
  /** The tenant has a Graph users filter, which delta queries cannot apply. */
  'users_filter',
  /** The groups fell back, so the teams derived from them did too. */
  'groups_fell_back',
] as const;
export type DeltaFallbackReason = (typeof DELTA_FALLBACK_REASONS)[number];

/** How long Graph keeps delta state for directory objects ("Token duration"): 7 days. */
export const DELTA_TOKEN_LIFETIME_MS = 7 * 24 * 3600_000;

const FALLBACK_TEXT: Record<DeltaFallbackReason, string> = {
  no_state: 'no delta state is saved for it yet (the first full pull saves one)',
  unreadable: 'its saved delta state does not decrypt with the configured keys',
  select_changed: 'its saved delta state was made with other properties than this version reads',
  other_host: "its saved delta state names another Graph host than the tenant's graph_base_url now does",
  too_old: 'its saved delta state is older than the 7 days Graph keeps one',
  expired: 'Graph no longer knows its delta state (400 syncStateNotFound)',
  resync: 'Graph asked for a full resynchronisation (410 Gone)',
  users_filter:
    "the tenant has a Graph users filter (Sync Filters.graph_users_filter), and Graph's users delta cannot filter but by id",
  groups_fell_back: 'the groups it is derived from fell back to a full pull',
};

/** The run record's words for a fallback: what happened and why. */
export function fallbackMessage(kind: string, reason: DeltaFallbackReason): string {
  return `${kind}: full pull instead of a delta round, because ${FALLBACK_TEXT[reason]}.`;
}

/** Why a saved state cannot start a round now, if it cannot (checks made before asking Graph). */
export function unusableState(
  read: { state?: { link: string; select: string; roundStartedAt: Date }; unreadable?: true },
  expected: { select: string; graphOrigin: string },
  now: number,
  lifetimeMs = DELTA_TOKEN_LIFETIME_MS,
): DeltaFallbackReason | undefined {
  if (read.unreadable) return 'unreadable';
  if (!read.state) return 'no_state';
  if (read.state.select !== expected.select) return 'select_changed';
  if (originOf(read.state.link) !== expected.graphOrigin) return 'other_host';
  if (now - read.state.roundStartedAt.getTime() >= lifetimeMs) return 'too_old';
  return undefined;
}

/**
 * A delta object merged into its stored version: the round's properties win (a cleared one comes as
 * null), the others stay. A property selected but set in neither is null, as a full pull lists it,
 * so a merged object equals what a full pull would store.
 */
export function mergeDelta(
  stored: Record<string, unknown> | undefined,
  change: Record<string, unknown>,
  selected: readonly string[],
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...stored, ...change };
  for (const property of selected) if (!(property in merged)) merged[property] = null;
  return merged;
}

function originOf(link: string): string | undefined {
  try {
    return new URL(link).origin;
  } catch {
    return undefined;
  }
}
