/**
 * The one place the MongoDB stores are built: every process (CLI, API, worker, scheduler, demo)
 * gets them from here, so each store exists once per process and nothing else reads their
 * collections raw. Tests may still build the one store they test.
 */
import type { Db } from 'mongodb';
import type { SourceThresholds } from '../../domain/delete-protection.js';
import { ApiTokenStore } from './api-tokens.js';
import { CertificateRepository } from './certificates.js';
import { DeleteProtectionStore } from './delete-protection.js';
import type { AllowedDestinations } from './destinations.js';
import { LOCKED_KEY_RING, type KeyRing } from './encryption.js';
import { ImportedObjects } from './imported-objects.js';
import { checkKeyCanary } from './key-canary.js';
import { KindLists } from './kind-lists.js';
import { LeaseStore } from './leases.js';
import { ScheduleOverrides } from './schedules.js';
import { SweepRecords } from './sweep-records.js';
import { SyncRuns } from './sync-runs.js';
import { TenantSyncStates } from './sync-state.js';
import { TenantRepository } from './tenants.js';

export interface Stores {
  db: Db;
  keyRing: KeyRing;
  tenants: TenantRepository;
  certificates: CertificateRepository;
  /** The operator API's tokens. */
  tokens: ApiTokenStore;
  /** The allow-list of destinations (the same one the tenant store checks). */
  destinations: AllowedDestinations;
  runs: SyncRuns;
  leases: LeaseStore;
  objects: ImportedObjects;
  sweepRecords: SweepRecords;
  deleteProtection: DeleteProtectionStore;
  kindLists: KindLists;
  schedules: ScheduleOverrides;
  syncStates: TenantSyncStates;
}

export interface StoreOptions {
  /** The global delete thresholds of the process settings (globalDeleteThresholds); default none. */
  deleteThresholds?: SourceThresholds;
  /** Allowed difference between worker clocks when a lease is taken over (LeaseStore's default: 5 s). */
  leaseClockSkewMs?: number;
}

/**
 * Builds every store on `db` (no I/O). With LOCKED_KEY_RING (the default) the stores read what is
 * stored in the clear, and anything that would decrypt or encrypt fails with ENCRYPTION_KEY: what
 * the worker's run bookkeeping and the scheduler need.
 */
export function buildStores(db: Db, keyRing: KeyRing = LOCKED_KEY_RING, options: StoreOptions = {}): Stores {
  const certificates = new CertificateRepository(db, keyRing);
  const tenants = new TenantRepository(db, keyRing, (name, hierarchy) =>
    certificates.findForTenant(name, hierarchy),
  );
  const sweepRecords = new SweepRecords(db);
  return {
    db,
    keyRing,
    tenants,
    certificates,
    tokens: new ApiTokenStore(db),
    destinations: tenants.destinations,
    runs: new SyncRuns(db),
    leases: new LeaseStore(
      db,
      options.leaseClockSkewMs === undefined ? {} : { clockSkewMs: options.leaseClockSkewMs },
    ),
    objects: new ImportedObjects(db, sweepRecords),
    sweepRecords,
    deleteProtection: new DeleteProtectionStore(db, options.deleteThresholds),
    kindLists: new KindLists(db),
    schedules: new ScheduleOverrides(db),
    syncStates: new TenantSyncStates(db),
  };
}

/**
 * Opens the stores of a process (CLI, API, worker, scheduler, demo). Checks the key canary first: a
 * wrong M365SYNC_ENCRYPTION_KEYS stops the process here, at start-up.
 */
export async function openStores(db: Db, keyRing: KeyRing, options: StoreOptions = {}): Promise<Stores> {
  // A read-only command without the key has no key to check (it decrypts nothing).
  if (keyRing !== LOCKED_KEY_RING) await checkKeyCanary(db, keyRing);
  const stores = buildStores(db, keyRing, options);
  await Promise.all([
    stores.certificates.ensureIndexes(),
    stores.tenants.ensureIndexes(),
    stores.tokens.ensureIndexes(),
  ]);
  return stores;
}
