/**
 * How big and how many bulk writes at once, for the server we talk to. FerretDB v1.24 stops answering
 * when too many update statements are in flight at once across all processes: about 100 on SQLite,
 * and on PostgreSQL about 50 (each statement holds one of the pool's 50 PostgreSQL connections; a
 * `bulkWrite` of 64 updates wedged the whole server until restarted), whether in one command or
 * spread over several connections. Two writes at once also meet SQLITE_BUSY. So on FerretDB update
 * and delete statements go 8 to a command, one write command at a time per process: a handful of
 * worker and test processes stay well under 50. On MongoDB: 500 per command, unthrottled.
 * (FerretDB v1 also scans a collection for every statement that is not an `_id` equality, so the
 * store updates and deletes by `_id` only, and inserts new objects with `insertMany`.)
 */
import Bottleneck from 'bottleneck';
import type { Db } from 'mongodb';

export interface WriteLimits {
  server: 'mongodb' | 'ferretdb';
  /** Update statements in one write command. */
  opsPerWrite: number;
  /** Documents in one insert, and ids in one `$in` of a multi-document update. */
  docsPerInsert: number;
  /** A process-wide gate around write commands (null: none). */
  gate: Bottleneck | null;
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

export async function writeLimitsFor(db: Db): Promise<WriteLimits> {
  const info = await db.admin().command({ buildInfo: 1 });
  if (typeof info.ferretdbVersion !== 'string') {
    return (mongodb ??= {
      server: 'mongodb',
      opsPerWrite: 500,
      docsPerInsert: 1000,
      gate: null,
      reads: new Bottleneck({ maxConcurrent: 4 }),
    });
  }
  ferretdb ??= {
    server: 'ferretdb',
    opsPerWrite: 8,
    docsPerInsert: 200,
    gate: new Bottleneck({ maxConcurrent: 1 }),
    reads: new Bottleneck({ maxConcurrent: 1 }),
  };
  return ferretdb;
}

/** Runs a write within the gate, if the server needs one. */
export function gated<T>(limits: WriteLimits, write: () => Promise<T>): Promise<T> {
  return limits.gate ? limits.gate.schedule(write) : write();
}
