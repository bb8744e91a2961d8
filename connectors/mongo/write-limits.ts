/**
 * How big and how many bulk writes at once, for the server we talk to. FerretDB v1.24 stops answering
 * when too many update statements are in flight at once across all processes: about 100 on SQLite,
 * and on PostgreSQL about 50 (each statement holds one of the pool's 50 PostgreSQL connections; a
 * `bulkWrite` of 64 updates wedged the whole server until restarted), whether in one command or
 * spread over several connections. Two writes at once also meet SQLITE_BUSY. So on FerretDB update
 * and delete statements go 8 to a command, one write command at a time per process: a handful of
 * worker and test processes stay well under 50. On MongoDB: 500 per command, unthrottled.
 * FerretDB v1 also scans the collection for every filtered statement, an `_id` equality included on
 * PostgreSQL (the filter becomes a jsonb `@>` no index serves), so a statement costs time in
 * proportion to the collection: the store writes as few as it can (new objects with `insertMany`,
 * many deletes with one `$in`, updates only for changed objects).
 * Reads of stored pictures go one at a time per process, most urgent first (`reads`).
 */
import Bottleneck from 'bottleneck';
import type { Db } from 'mongodb';

export interface WriteLimits {
  server: 'mongodb' | 'ferretdb';
  /** Update statements in one write command. */
  opsPerWrite: number;
  /** Documents in one insert, and ids in one `$in` of a multi-document delete. */
  docsPerInsert: number;
  /**
   * From how many deletes a `deleteMany` with `$in` is cheaper than one `deleteOne` by `_id` each.
   * FerretDB v1 on PostgreSQL scans the collection for either (an `_id` filter becomes a jsonb `@>`
   * that no index serves; a `$in` is filtered in FerretDB itself): measured at 50,000 documents, 70 ms
   * for one `_id` statement and 2.5–2.9 s for one `$in` of 10 to 500 ids, so about 40 to one whatever
   * the collection's size.
   */
  inFrom: number;
  /**
   * ExternalIds in one look-up of a partial picture (a delta round's named objects): MongoDB serves a
   * `$in` on `tenant_external_id` from the index, in batches; FerretDB v1 serves no `$in` from an index,
   * so one id a query, which an index can serve (`bench/ferretdb-id-index.ts`).
   */
  keysPerLookup: number;
  /** Look-ups of one partial picture in flight at once (finds: they never wedge FerretDB). */
  lookupsInFlight: number;
  /** A process-wide gate around write commands (null: none). */
  gate: Bottleneck | null;
  /**
   * A process-wide cap on single-record update statements in flight (run records): wider than `gate`,
   * so a run's records do not wait behind its bulk writes, and small enough that a burst of API
   * requests cannot reach the fifty that wedge FerretDB (null: none).
   */
  updates: Bottleneck | null;
  /**
   * A process-wide gate around stored-picture reads (stored-keys.ts), taken in order of `priority`
   * (0 first). FerretDB serves a streamed read at a fixed rate of documents per second however many
   * run at once, so sixteen kinds read at once all finish late; one at a time, the kinds a run waits
   * for first (Graph users gate the Teams matching) have their picture early.
   */
  reads: Bottleneck;
}

let mongodb: WriteLimits | undefined;
let ferretdb: WriteLimits | undefined;
const lookedUp = new WeakMap<Db, Promise<WriteLimits>>();

/**
 * The server's write limits, looked up (`buildInfo`) once per database handle. Only a success is
 * kept: a look-up that met MongoDB away (refusing, hanging, failing over) is made again by the next
 * caller, so a long-lived worker syncs again as soon as MongoDB answers instead of failing every later
 * run with the old error.
 */
export function writeLimitsFor(db: Db): Promise<WriteLimits> {
  let limits = lookedUp.get(db);
  if (!limits) {
    limits = lookUp(db).catch((error: unknown) => {
      lookedUp.delete(db);
      throw error;
    });
    lookedUp.set(db, limits);
  }
  return limits;
}

async function lookUp(db: Db): Promise<WriteLimits> {
  const info = await db.admin().command({ buildInfo: 1 });
  if (typeof info.ferretdbVersion !== 'string') {
    return (mongodb ??= {
      server: 'mongodb',
      opsPerWrite: 500,
      docsPerInsert: 1000,
      inFrom: 1,
      keysPerLookup: 1000,
      lookupsInFlight: 8,
      gate: null,
      updates: null,
      reads: new Bottleneck({ maxConcurrent: 4 }),
    });
  }
  ferretdb ??= {
    server: 'ferretdb',
    opsPerWrite: 8,
    // Inserts are FerretDB's cheap write; each write batch is preceded by two lease reads, so big ones.
    docsPerInsert: 1000,
    inFrom: 40,
    keysPerLookup: 1,
    lookupsInFlight: 8,
    gate: new Bottleneck({ maxConcurrent: 1 }),
    updates: new Bottleneck({ maxConcurrent: 8 }),
    reads: new Bottleneck({ maxConcurrent: 1 }),
  };
  return ferretdb;
}

/** Runs a single-record update within the update cap, if the server needs one. */
export function updating<T>(limits: WriteLimits, update: () => Promise<T>): Promise<T> {
  return limits.updates ? limits.updates.schedule(update) : update();
}

/** Runs a write within the gate, if the server needs one. */
export function gated<T>(limits: WriteLimits, write: () => Promise<T>): Promise<T> {
  return limits.gate ? limits.gate.schedule(write) : write();
}
