/**
 * Runs once before the suite: the integration tests need a real Redis and a real MongoDB-wire server.
 * A missing service fails the run loudly, saying how to start it; no test is skipped for lack of one.
 */
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { testEnv } from './support/env.js';

export default async function setup(): Promise<void> {
  const { redisUrl, mongoUri } = testEnv();
  const problems: string[] = [];

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    problems.push(`Redis does not answer at ${redisUrl} (${(error as Error).message}).`);
  } finally {
    redis.disconnect();
  }

  const mongo = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 2000 });
  try {
    await mongo.db('admin').command({ ping: 1 });
  } catch (error) {
    problems.push(`MongoDB does not answer at ${mongoUri} (${(error as Error).message}).`);
  } finally {
    await mongo.close();
  }

  if (problems.length > 0) {
    throw new Error(
      `${problems.join('\n')}\nStart the local services with \`npm run services\` (or run the whole suite with \`npm test\`, which starts them), or set REDIS_URL / MONGODB_URI.`,
    );
  }
}
