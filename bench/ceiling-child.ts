/**
 * The store ceiling for bench/nightly.ts, in its own process so its memory is not counted as the
 * worker's: reads a tenant's imported documents of every kind, writes them again into a scratch
 * collection with a minimal `insertMany` loop at a few batch sizes, and prints the best rate as JSON.
 *
 *   npx tsx bench/ceiling-child.ts <database> <tenantId>   (MONGODB_URI from the environment)
 */
import { MongoClient } from 'mongodb';
import { ENTITY_KINDS } from '../domain/entity-kinds.js';

const [dbName, tenantId] = process.argv.slice(2);
const client = new MongoClient(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017');
await client.connect();
const db = client.db(dbName);
const docs: Record<string, unknown>[] = [];
for (const { collection } of ENTITY_KINDS)
  for await (const { _id, ...d } of db.collection(collection).find({ tenantId })) docs.push(d);
let best = { rate: 0, batch: 0 };
for (const batch of [200, 1000]) {
  const scratch = db.collection(`ceiling_${batch}`);
  const started = performance.now();
  for (let i = 0; i < docs.length; i += batch) await scratch.insertMany(docs.slice(i, i + batch));
  const rate = docs.length / ((performance.now() - started) / 1000);
  if (rate > best.rate) best = { rate, batch };
  await scratch.drop();
}
console.log(JSON.stringify(best));
await client.close();
