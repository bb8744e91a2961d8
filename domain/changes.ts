/**
 * The change feed's rules (docs/engine.md, "The change feed"): what a change record says, the opaque
 * cursor readers page with, and the checks of a reader's
 * query. Pure; the store is connectors/mongo/changes.ts, the writer connectors/mongo/change-recorder.ts.
 */
import { ENTITY_KINDS } from './entity-kinds.js';
import { ValidationError, type FieldProblem } from './errors.js';

/**
 * `created`, `updated`, `deleted`: one object. `baseline`: the kind's first complete pull (no row per
 * object): a reader reads the kind in full from the store, then follows the feed after the marker.
 */
export const CHANGE_OPS = ['created', 'updated', 'deleted', 'baseline'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

/** One change as a reader sees it. */
export interface Change {
  /** Opaque: the cursor to pass as `after` to read what came after this change. */
  cursor: string;
  runId: string;
  kind: string;
  /** Absent on a `baseline` marker. */
  externalId?: string;
  op: ChangeOp;
  /** `updated`: the top-level fields that changed (sorted). */
  fields?: string[];
  at: string;
}

/** A change as the recorder hands it to the store (the sequence number is assigned there). */
export interface ChangeEntry {
  kind: string;
  externalId?: string;
  op: ChangeOp;
  fields?: string[];
}

const CURSOR_PREFIX = 'c1.';

/** The cursor after sequence number `seq` (0: the feed's start). */
export function encodeCursor(seq: number): string {
  return CURSOR_PREFIX + Buffer.from(String(seq)).toString('base64url');
}

/** The sequence number a cursor stands for; a ValidationError naming `field` if it is not one of ours. */
export function decodeCursor(cursor: string, field = 'after'): number {
  const bad = () =>
    new ValidationError('Change feed query', [
      {
        field,
        message: 'is not a change-feed cursor (pass one a change-feed page returned, or leave it out)',
      },
    ]);
  if (!cursor.startsWith(CURSOR_PREFIX)) throw bad();
  const text = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString();
  if (!/^(0|[1-9]\d{0,15})$/.test(text)) throw bad();
  const seq = Number(text);
  if (!Number.isSafeInteger(seq)) throw bad();
  return seq;
}

export const MAX_CHANGES_LIMIT = 1000;
export const DEFAULT_CHANGES_LIMIT = 100;

export interface ChangeQuery {
  /** Sequence number after which to read (0: from the start of what is retained). */
  after: number;
  kinds?: string[];
  ops?: ChangeOp[];
  limit: number;
}

/**
 * Checks a reader's query (the API's query string, the CLI's flags); every problem named by its
 * field. Lists are comma-separated.
 */
export function parseChangeQuery(input: {
  after?: string | undefined;
  kinds?: string | string[] | undefined;
  ops?: string | string[] | undefined;
  limit?: string | number | undefined;
}): ChangeQuery {
  const problems: FieldProblem[] = [];
  let after = 0;
  if (input.after !== undefined && input.after !== '') {
    try {
      after = decodeCursor(input.after);
    } catch (error) {
      if (error instanceof ValidationError) problems.push(...error.problems);
      else throw error;
    }
  }
  const list = (value: string | string[] | undefined) =>
    value === undefined
      ? undefined
      : (Array.isArray(value) ? value : [value])
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter((v) => v !== '');
  const kinds = list(input.kinds);
  const known: string[] = ENTITY_KINDS.map((k) => k.kind);
  const unknownKinds = kinds?.filter((k) => !known.includes(k)) ?? [];
  if (unknownKinds.length > 0)
    problems.push({
      field: 'kinds',
      message: `${unknownKinds.join(', ')}: not a kind (${known.join(', ')})`,
    });
  const ops = list(input.ops);
  const unknownOps = ops?.filter((o) => !(CHANGE_OPS as readonly string[]).includes(o)) ?? [];
  if (unknownOps.length > 0)
    problems.push({
      field: 'ops',
      message: `${unknownOps.join(', ')}: not an operation (${CHANGE_OPS.join(', ')})`,
    });
  const limit = input.limit === undefined || input.limit === '' ? DEFAULT_CHANGES_LIMIT : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHANGES_LIMIT)
    problems.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_CHANGES_LIMIT}` });
  if (problems.length > 0) throw new ValidationError('Change feed query', problems);
  return {
    after,
    ...(kinds && kinds.length > 0 ? { kinds } : {}),
    ...(ops && ops.length > 0 ? { ops: ops as ChangeOp[] } : {}),
    limit,
  };
}

/** A run's changes, for its run-completion webhook: counts per operation and the cursor range. */
export interface RunChanges {
  created: number;
  updated: number;
  deleted: number;
  baseline: number;
  /** Read with `after` = this cursor to start at the run's first change; null when it recorded none. */
  after: string | null;
  /** The cursor of the run's last change; null when it recorded none. */
  last: string | null;
}

export const NO_RUN_CHANGES: RunChanges = {
  created: 0,
  updated: 0,
  deleted: 0,
  baseline: 0,
  after: null,
  last: null,
};
