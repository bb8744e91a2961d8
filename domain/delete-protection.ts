/**
 * Mass-delete protection: how many objects the sweep of one kind may delete in one run before it stops
 * and asks an operator (the run ends `needs_review`, the upserts still land, nothing of that kind is
 * deleted). The system m365sync replaces had one count per source (`PULL_SYNC_DELETE_THRESHOLD_MSGraph`,
 * `PULL_SYNC_DELETE_THRESHOLD_MSTeamsOnline`) and failed the whole sync when it was exceeded.
 *
 * A threshold is a count and/or a percentage of the kind's stored objects. When both are set, the
 * larger allowance wins (the default is "10 objects or 5 %, whichever is larger": a small tenant may
 * lose a handful of users, a large one a proportional share). A percentage alone scales with the
 * tenant; a count alone is a fixed cap. `percent: 100` switches the protection off.
 *
 * Thresholds are set per source (graph, teams, exchange) at three levels: globally, per hierarchy
 * place (`provider`, `provider.reseller`, …) and per tenant. The most specific level that sets a value
 * for the source wins, and it wins as a pair: a level that sets only `count` replaces both the count
 * and the percent of the levels above it (the percent is then absent, not inherited). One rule, no
 * half-inherited thresholds to puzzle over.
 */
import { z } from 'zod';
import { SyncError, ValidationError, type FieldProblem } from './errors.js';
import type { EntitySource } from './entity-kinds.js';
import type { SettingName, Settings } from './settings.js';
import { HIERARCHY, hierarchyPlaces } from './tenant.js';

export const DELETE_PROTECTION_SOURCES = [
  'graph',
  'teams',
  'exchange',
] as const satisfies readonly EntitySource[];
type DeleteProtectionSource = (typeof DELETE_PROTECTION_SOURCES)[number];

/** At least one of the two is set; both may be. */
export interface DeleteThreshold {
  /** Objects a sweep may delete, whatever the size of the kind. */
  count?: number;
  /** Percentage (0–100) of the kind's stored objects a sweep may delete. */
  percent?: number;
}

export type DeleteThresholdOrigin = 'default' | 'global' | `hierarchy:${string}` | 'tenant';

export interface ResolvedDeleteThreshold extends DeleteThreshold {
  /** The level the threshold came from, for the run record and `m365sync` output. */
  from: DeleteThresholdOrigin;
}

export type SourceThresholds = Partial<Record<EntitySource, DeleteThreshold>>;

export interface DeleteProtectionSettings {
  global?: SourceThresholds;
  /** Keyed by hierarchy place (`provider.reseller`); applies to every tenant at or below it. */
  hierarchy?: Record<string, SourceThresholds>;
  /** Keyed by tenant id. */
  tenants?: Record<string, SourceThresholds>;
}

export const DEFAULT_DELETE_THRESHOLD: Readonly<Required<DeleteThreshold>> = Object.freeze({
  count: 10,
  percent: 5,
});

const Threshold = z
  .object({
    count: z
      .number({ error: 'must be a whole number of 0 or more' })
      .int({ error: 'must be a whole number of 0 or more' })
      .min(0, { error: 'must be a whole number of 0 or more' })
      .optional(),
    percent: z
      .number({ error: 'must be a number from 0 to 100' })
      .min(0, { error: 'must be a number from 0 to 100' })
      .max(100, { error: 'must be a number from 0 to 100' })
      .optional(),
  })
  .strict()
  .refine((t) => t.count !== undefined || t.percent !== undefined, {
    error: 'must set count, percent or both',
    // Only when the fields themselves are fine: an unknown field already says what is wrong.
    when: (payload) => payload.issues.length === 0,
  });

const Sources = z
  .object({ graph: Threshold.optional(), teams: Threshold.optional(), exchange: Threshold.optional() })
  .strict();

export const DeleteProtectionSettingsSchema = z
  .object({
    global: Sources.optional(),
    hierarchy: z
      .record(
        z.string().regex(HIERARCHY, {
          error: 'must be a hierarchy place: dot-separated names of letters, digits, "-" and "_"',
        }),
        Sources,
      )
      .optional(),
    tenants: z.record(z.string().min(1, { error: 'must be a tenant id' }), Sources).optional(),
  })
  .strict();

/** `['hierarchy', 'provider.reseller', 'teams', 'count']` → `hierarchy["provider.reseller"].teams.count`. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    const s = String(segment);
    if (typeof segment === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(delete protection)';
}

/**
 * Checks delete-protection settings as an operator hands them in (API body, CLI file). Every problem
 * is listed with its field name; nothing is half-accepted.
 */
export function parseDeleteProtectionSettings(input: unknown): DeleteProtectionSettings {
  const parsed = DeleteProtectionSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const problems: FieldProblem[] = parsed.error.issues.map((issue) => ({
      field: fieldName(issue.path),
      message:
        issue.code === 'unrecognized_keys'
          ? `has unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (expected ${expectedKeys(issue.path)})`
          : issue.code === 'invalid_key'
            ? `is not a valid name: ${issue.issues.map((i) => i.message).join('; ')}`
            : issue.message,
    }));
    throw new ValidationError('Delete protection settings', problems);
  }
  return parsed.data as DeleteProtectionSettings;
}

function expectedKeys(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'global, hierarchy, tenants';
  const depth = path[0] === 'global' ? path.length : path.length - 1;
  return depth === 1 ? DELETE_PROTECTION_SOURCES.join(', ') : 'count, percent';
}

function pick(threshold: DeleteThreshold): DeleteThreshold {
  const out: DeleteThreshold = {};
  if (threshold.count !== undefined) out.count = threshold.count;
  if (threshold.percent !== undefined) out.percent = threshold.percent;
  return out;
}

function sets(threshold: DeleteThreshold | undefined): threshold is DeleteThreshold {
  return threshold !== undefined && (threshold.count !== undefined || threshold.percent !== undefined);
}

/**
 * The threshold that applies to one source of one tenant: the tenant's own, else the most specific
 * hierarchy place's (`a.b.c`, then `a.b`, then `a`), else the global one, else the default.
 */
export function resolveDeleteThreshold(
  settings: DeleteProtectionSettings | undefined,
  target: { source: EntitySource; hierarchy: string; tenantId: string },
): ResolvedDeleteThreshold {
  const { source, hierarchy, tenantId } = target;
  const tenant = settings?.tenants?.[tenantId]?.[source];
  if (sets(tenant)) return { ...pick(tenant), from: 'tenant' };
  for (const place of hierarchyPlaces(hierarchy)) {
    const atPlace = settings?.hierarchy?.[place]?.[source];
    if (sets(atPlace)) return { ...pick(atPlace), from: `hierarchy:${place}` };
  }
  const global = settings?.global?.[source];
  if (sets(global)) return { ...pick(global), from: 'global' };
  return { ...DEFAULT_DELETE_THRESHOLD, from: 'default' };
}

function assertCount(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number of 0 or more, not ${value}`);
  }
}

/**
 * How many of a kind's `storedCount` objects a sweep may delete. A percentage rounds down (5 % of 30
 * stored objects allows 1, not 2): the protection errs on the side of asking.
 */
export function allowedDeletions(threshold: DeleteThreshold, storedCount: number): number {
  assertCount(storedCount, 'storedCount');
  // The tiny epsilon keeps 29 % of 100 at 29 despite binary floating point.
  const byPercent =
    threshold.percent === undefined ? undefined : Math.floor((threshold.percent * storedCount) / 100 + 1e-9);
  if (threshold.count !== undefined && byPercent !== undefined) return Math.max(threshold.count, byPercent);
  if (threshold.count !== undefined) return threshold.count;
  if (byPercent !== undefined) return byPercent;
  // A threshold with neither set cannot come out of resolveDeleteThreshold; treat it as the default.
  return allowedDeletions(DEFAULT_DELETE_THRESHOLD, storedCount);
}

/**
 * How many stored objects are enough for a sweep of `wouldDelete` to be allowed: counting beyond it
 * cannot change the decision (0: the count part allows it whatever is stored; undefined: no number is
 * enough, as with a threshold of 0 %). Lets a writer that must ask the store count only that far.
 */
export function storedEnoughFor(threshold: DeleteThreshold, wouldDelete: number): number | undefined {
  assertCount(wouldDelete, 'wouldDelete');
  if (allowedDeletions(threshold, 0) >= wouldDelete) return 0;
  const percent = threshold.percent ?? (threshold.count === undefined ? DEFAULT_DELETE_THRESHOLD.percent : 0);
  if (percent <= 0) return undefined;
  let enough = Math.ceil((wouldDelete * 100) / percent);
  while (allowedDeletions(threshold, enough) < wouldDelete) enough++;
  return enough;
}

export interface SweepCheck {
  /** True when the sweep may delete all `wouldDelete` objects. */
  allowed: boolean;
  /** The most it may delete. */
  limit: number;
}

/**
 * Whether a sweep may go ahead. `storedCount` is the tenant's objects of the kind before the sweep
 * (the run's upserts included), `wouldDelete` those the run did not see. Deleting exactly the limit
 * is allowed; one more is not.
 */
export function checkSweep(
  threshold: DeleteThreshold,
  sweep: { storedCount: number; wouldDelete: number },
): SweepCheck {
  assertCount(sweep.wouldDelete, 'wouldDelete');
  const limit = allowedDeletions(threshold, sweep.storedCount);
  return { allowed: sweep.wouldDelete <= limit, limit };
}

/** `10 objects or 5 %, whichever is larger (from hierarchy:provider)`: for messages and the CLI. */
export function describeDeleteThreshold(
  threshold: DeleteThreshold & { from?: DeleteThresholdOrigin },
): string {
  const parts: string[] = [];
  if (threshold.count !== undefined)
    parts.push(`${threshold.count} object${threshold.count === 1 ? '' : 's'}`);
  if (threshold.percent !== undefined) parts.push(`${threshold.percent} %`);
  const text =
    parts.length === 2 ? `${parts[0]} or ${parts[1]}, whichever is larger` : (parts[0] ?? 'the default');
  return threshold.from ? `${text} (from ${threshold.from})` : text;
}

/**
 * The error a step records when its sweep is held back. The message says what happened and what the
 * operator can do; it names the kind and the counts, never an object's data.
 */
export function deleteThresholdExceeded(details: {
  kind: string;
  wouldDelete: number;
  storedCount: number;
  threshold: ResolvedDeleteThreshold;
  runId?: string;
}): SyncError {
  const limit = allowedDeletions(details.threshold, details.storedCount);
  const approve = details.runId
    ? `m365sync runs approve-deletes ${details.runId}`
    : 'm365sync runs approve-deletes <run>';
  return new SyncError(
    'DELETE_THRESHOLD_EXCEEDED',
    `The sync would delete ${details.wouldDelete} of ${details.storedCount} ${details.kind}, more than the ` +
      `${limit} allowed (${describeDeleteThreshold(details.threshold)}). Nothing of ${details.kind} was deleted; ` +
      `the new and changed objects were saved. Check the tenant, then approve with \`${approve}\` or let the next run decide again.`,
  );
}

/**
 * The global thresholds of the process settings. m365sync's own names are
 * `DELETE_THRESHOLD_<SOURCE>` (a count) and `DELETE_THRESHOLD_<SOURCE>_PERCENT` for SOURCE in GRAPH,
 * TEAMS, EXCHANGE. The names of the system we replace are accepted too, as counts:
 * `PULL_SYNC_DELETE_THRESHOLD_MSGraph` → graph, `PULL_SYNC_DELETE_THRESHOLD_MSTeamsOnline` → teams
 * (it had no Exchange setting). m365sync's own name wins when both are set. Setting either name of a
 * source sets that source's pair (count and percent) at the global level. (parseSettings checks the
 * values: counts whole numbers of 0 or more, percentages 0 to 100.)
 */
export const LEGACY_DELETE_THRESHOLD_VARIABLES = {
  graph: 'PULL_SYNC_DELETE_THRESHOLD_MSGraph',
  teams: 'PULL_SYNC_DELETE_THRESHOLD_MSTeamsOnline',
} as const satisfies Partial<Record<EntitySource, SettingName>>;

export type DeleteThresholdSettings = Pick<
  Settings,
  | `DELETE_THRESHOLD_${Uppercase<DeleteProtectionSource>}`
  | `DELETE_THRESHOLD_${Uppercase<DeleteProtectionSource>}_PERCENT`
  | (typeof LEGACY_DELETE_THRESHOLD_VARIABLES)[keyof typeof LEGACY_DELETE_THRESHOLD_VARIABLES]
>;

export function globalDeleteThresholds(settings: DeleteThresholdSettings): SourceThresholds {
  const out: SourceThresholds = {};
  for (const source of DELETE_PROTECTION_SOURCES) {
    const upper = source.toUpperCase() as Uppercase<DeleteProtectionSource>;
    const legacyName = (
      LEGACY_DELETE_THRESHOLD_VARIABLES as Partial<Record<EntitySource, keyof DeleteThresholdSettings>>
    )[source];
    const count = settings[`DELETE_THRESHOLD_${upper}`] ?? (legacyName ? settings[legacyName] : undefined);
    const percent = settings[`DELETE_THRESHOLD_${upper}_PERCENT`];
    if (count !== undefined || percent !== undefined) {
      out[source] = {};
      if (count !== undefined) out[source].count = count;
      if (percent !== undefined) out[source].percent = percent;
    }
  }
  return out;
}
