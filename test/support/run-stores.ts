/**
 * The stores a run writes with (objects, leases, runs, the change feed), indexed, on a test file's own
 * database: what the tests of the run's parts (run context, kind writer, guarded sweep) and of the
 * operations that act under a tenant's lease (approve, purge) start from. No clock skew allowance, so
 * a lease's lapse is exact; no key ring (these tests store no tenant secret).
 */
import { buildStores, type Stores } from '../../connectors/mongo/index.js';
import type { StoreOptions } from '../../connectors/mongo/stores.js';
import type { Db } from 'mongodb';

export async function runStores(db: Db, options: StoreOptions = {}): Promise<Stores> {
  const stores = buildStores(db, undefined, { leaseClockSkewMs: 0, ...options });
  // One after the other: FerretDB can deadlock on index builds at the same time.
  await stores.objects.ensureIndexes();
  await stores.leases.ensureIndexes();
  await stores.runs.ensureIndexes();
  await stores.changes.ensureIndexes();
  return stores;
}
