import { MongoClient, type Db } from 'mongodb';
import { z } from 'zod';
import { SyncError } from '../../domain/errors.js';

const MongoEnv = z.object({
  MONGODB_URI: z.string().default('mongodb://127.0.0.1:27017'),
  M365SYNC_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,60}$/, 'a database name of letters, digits, "-" and "_"')
    .default('m365sync'),
});

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** Connects to MONGODB_URI (database M365SYNC_DB); the driver reconnects by itself after an outage. */
export async function connectMongo(env: NodeJS.ProcessEnv = process.env): Promise<MongoConnection> {
  const { MONGODB_URI, M365SYNC_DB } = MongoEnv.parse(env);
  const client = new MongoClient(MONGODB_URI, { serverSelectionTimeoutMS: 10_000, appName: 'm365sync' });
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
