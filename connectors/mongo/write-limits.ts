/**
 * How big and how many bulk writes at once, for the server we talk to. FerretDB v1.24 (SQLite) stops
 * answering when about 100 update statements that match existing documents are in flight at once,
 * whether in one `update` command or spread over several connections (found here, reproduced with
 * the plain driver); inserts and deletes are not affected. Two writes at once also meet
 * SQLITE_BUSY. So on FerretDB pages are written in small chunks, one write at a time per process; on
 * MongoDB in chunks of 500, unthrottled. (FerretDB v1 also scans a collection for every update
 * statement, so the store inserts new objects and stamps unchanged ones with one multi-document
 * update rather than upserting each.)
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
}

const MONGODB: WriteLimits = { server: 'mongodb', opsPerWrite: 500, docsPerInsert: 1000, gate: null };
let ferretdb: WriteLimits | undefined;

export async function writeLimitsFor(db: Db): Promise<WriteLimits> {
  const info = await db.admin().command({ buildInfo: 1 });
  if (typeof info.ferretdbVersion !== 'string') return MONGODB;
  ferretdb ??= {
    server: 'ferretdb',
    opsPerWrite: 16,
    docsPerInsert: 200,
    gate: new Bottleneck({ maxConcurrent: 1 }),
  };
  return ferretdb;
}

/** Runs a write within the gate, if the server needs one. */
export function gated<T>(limits: WriteLimits, write: () => Promise<T>): Promise<T> {
  return limits.gate ? limits.gate.schedule(write) : write();
}
