/**
 * Teams users matched to Entra (Graph) users. `Get-CsOnlineUser` returns `Identity` = the Entra object
 * id (module 3.0 renamed ObjectId to Identity), so a Teams user belongs to the Graph user with the same
 * id. The system m365sync replaces only synced Teams users that had a matching Entra user; m365sync
 * keeps the others flagged by default (`noEntraMatch: true`, so an operator can find guests,
 * soft-deleted and orphaned accounts) or skips them when the tenant says so.
 *
 * The helpers work page by page so the engine never holds all users: collect the ids of a page
 * (`teamsUserIds`), look them up in the Graph users it has (MongoDB `users`, or the run's own set),
 * then `matchTeamsUsers` with the ids found.
 */
import { z } from 'zod';
import { withFields } from './with-fields.js';

export type UnmatchedTeamsUsers = 'flag' | 'skip';
export const DEFAULT_UNMATCHED_TEAMS_USERS: UnmatchedTeamsUsers = 'flag';

/** The tenant option, for the tenant's sync settings. */
export const UnmatchedTeamsUsersSchema = z
  .enum(['flag', 'skip'], { error: 'must be flag (keep them, marked noEntraMatch) or skip (leave them out)' })
  .default(DEFAULT_UNMATCHED_TEAMS_USERS);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Graph user ids the engine knows (lower-case), or a function answering for one lower-cased id. */
export type EntraUserLookup = ReadonlySet<string> | ((entraId: string) => boolean);

/**
 * Both fields are always written, so an upsert that sets fields (rather than replacing the document)
 * never leaves a stale `noEntraMatch: true` on a user who has since been matched, or the reverse.
 */
export type TeamsUserMatch =
  { entraUserId: string; noEntraMatch: false } | { entraUserId: null; noEntraMatch: true };

/** The Entra object id a Teams user document names, lower-cased; undefined when it has none. */
export function teamsUserEntraId(doc: { Identity?: unknown }): string | undefined {
  const id = doc.Identity;
  return typeof id === 'string' && GUID.test(id.trim()) ? id.trim().toLowerCase() : undefined;
}

/** The distinct Entra ids of a page of Teams users, for one lookup (`{ id: { $in: ids } }`). */
export function teamsUserIds(docs: Iterable<{ Identity?: unknown }>): string[] {
  const ids = new Set<string>();
  for (const doc of docs) {
    const id = teamsUserEntraId(doc);
    if (id) ids.add(id);
  }
  return [...ids];
}

function has(lookup: EntraUserLookup, id: string): boolean {
  return typeof lookup === 'function' ? lookup(id) : lookup.has(id);
}

/** The match of one Teams user: its Graph user's id, or the flag. */
export function matchTeamsUser(doc: { Identity?: unknown }, lookup: EntraUserLookup): TeamsUserMatch {
  const id = teamsUserEntraId(doc);
  return id !== undefined && has(lookup, id)
    ? { entraUserId: id, noEntraMatch: false }
    : { entraUserId: null, noEntraMatch: true };
}

export interface TeamsMatchResult<T> {
  /** The documents to store, annotated; without the unmatched ones when the option is `skip`. */
  documents: (T & TeamsUserMatch)[];
  matched: number;
  /** Teams users with no Entra user, whether kept (flagged) or skipped. */
  unmatched: number;
  /** Of those, how many were left out. */
  skipped: number;
}

/**
 * Annotates a page of Teams users. With `skip`, the unmatched are left out of `documents`; they are
 * then not stored, so the sweep removes any stored copy of them (and delete protection counts them).
 */
export function matchTeamsUsers<T extends { Identity?: unknown }>(
  docs: Iterable<T>,
  lookup: EntraUserLookup,
  option: UnmatchedTeamsUsers = DEFAULT_UNMATCHED_TEAMS_USERS,
): TeamsMatchResult<T> {
  const documents: (T & TeamsUserMatch)[] = [];
  let matched = 0;
  let unmatched = 0;
  for (const doc of docs) {
    const match = matchTeamsUser(doc, lookup);
    if (match.noEntraMatch) {
      unmatched++;
      if (option === 'skip') continue;
    } else {
      matched++;
    }
    documents.push(withFields(doc, match));
  }
  return { documents, matched, unmatched, skipped: option === 'skip' ? unmatched : 0 };
}

/** Adds one page's counts to a running total (the run record keeps the total per run). */
export function addMatchCounts(
  total: { matched: number; unmatched: number; skipped: number },
  page: { matched: number; unmatched: number; skipped: number },
): { matched: number; unmatched: number; skipped: number } {
  return {
    matched: total.matched + page.matched,
    unmatched: total.unmatched + page.unmatched,
    skipped: total.skipped + page.skipped,
  };
}
