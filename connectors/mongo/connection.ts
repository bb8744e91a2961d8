import {
  MongoClient,
  MongoNetworkError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Db,
  type MongoClientOptions,
} from 'mongodb';
import { SyncError } from '../../domain/errors.js';
import type { Settings } from '../../domain/settings.js';

/** MONGODB_URI, M365SYNC_DB and the timeouts (MONGODB_SOCKET_TIMEOUT_MS, MONGODB_SERVER_SELECTION_TIMEOUT_MS). */
export type MongoSettings = Pick<
  Settings,
  'MONGODB_URI' | 'M365SYNC_DB' | 'MONGODB_SOCKET_TIMEOUT_MS' | 'MONGODB_SERVER_SELECTION_TIMEOUT_MS'
>;

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * Driver options that bound every operation. The mongodb 7 driver dropped `timeoutMS` (it has no
 * effect), so: `serverSelectionTimeoutMS` bounds waiting for a server that refuses connections,
 * `connectTimeoutMS` a connection attempt, `waitQueueTimeoutMS` waiting for a pooled connection, and
 * `socketTimeoutMS` a server that accepted the request and stops answering (the connection is then
 * closed and the operation fails). Writes under a lease also carry `maxTimeMS` (leases.ts), so the
 * server gives up on its side too. Keep the socket timeout below half the lease time
 * (SYNC_LEASE_TTL_MS), so a hung operation ends before the run's lease lapses.
 */
export function mongoClientOptions(e: MongoSettings): MongoClientOptions {
  return {
    appName: 'm365sync',
    serverSelectionTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    connectTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    waitQueueTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    socketTimeoutMS: e.MONGODB_SOCKET_TIMEOUT_MS,
  };
}

/** Connects to MONGODB_URI (database M365SYNC_DB); the driver reconnects by itself after an outage. */
export async function connectMongo(settings: MongoSettings): Promise<MongoConnection> {
  const { MONGODB_URI, M365SYNC_DB } = settings;
  const client = new MongoClient(MONGODB_URI, mongoClientOptions(settings));
  try {
    await client.connect();
  } catch (cause) {
    // The URI may hold a password: name the host only.
    const host = MONGODB_URI.replace(/^mongodb(\+srv)?:\/\/([^@/]*@)?/, '').split('/')[0];
    throw new SyncError(
      'SERVICE_UNAVAILABLE',
      `MongoDB does not answer at ${host}: start it (npm run services) or set MONGODB_URI.`,
      { cause, retryable: true },
    );
  }
  return { client, db: client.db(M365SYNC_DB), close: () => client.close() };
}

/**
 * Whether `error` says MongoDB cannot be reached (refused, timed out, pool cleared, no server
 * selected, client closed), as opposed to MongoDB refusing an operation (a duplicate key, a bad
 * query). Looks one `cause` deep, as stores wrap driver errors.
 */
export function isMongoUnavailable(error: unknown): boolean {
  for (const e of [error, (error as { cause?: unknown } | undefined)?.cause]) {
    if (
      e instanceof MongoNetworkError ||
      e instanceof MongoServerSelectionError ||
      e instanceof MongoTopologyClosedError ||
      (e as { name?: unknown } | undefined)?.name === 'MongoWaitQueueTimeoutError'
    )
      return true;
  }
  return false;
}
