// Exits 0 when the MongoDB-wire server at MONGODB_URI answers a ping (used by services.sh).
import { MongoClient } from 'mongodb';

const client = new MongoClient(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017', {
  serverSelectionTimeoutMS: 1500,
  connectTimeoutMS: 1500,
});
try {
  await client.db('admin').command({ ping: 1 });
  process.exit(0);
} catch {
  process.exit(1);
} finally {
  await client.close().catch(() => {});
}
