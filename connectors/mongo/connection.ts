import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { z } from 'zod';
import { SyncError } from '../../domain/errors.js';

const MongoEnv = z.object({
  MONGODB_URI: z.string().default('mongodb://127.0.0.1:27017'),
  M365SYNC_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,60}$/, 'a database name of letters, digits, "-" and "_"')
    .default('m365sync'),
  /** How long any one MongoDB operation may wait for the server's answer before it fails. */
  MONGODB_SOCKET_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** How long an operation may wait for a reachable server (and a connection) before it fails. */
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
});

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
export function mongoClientOptions(env: NodeJS.ProcessEnv = process.env): MongoClientOptions {
  const e = MongoEnv.parse(env);
  return {
    appName: 'm365sync',
    serverSelectionTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    connectTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    waitQueueTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    socketTimeoutMS: e.MONGODB_SOCKET_TIMEOUT_MS,
  };
}

/** Connects to MONGODB_URI (database M365SYNC_DB); the driver reconnects by itself after an outage. */
export async function connectMongo(env: NodeJS.ProcessEnv = process.env): Promise<MongoConnection> {
  const { MONGODB_URI, M365SYNC_DB } = MongoEnv.parse(env);
  const client = new MongoClient(MONGODB_URI, mongoClientOptions(env));
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
