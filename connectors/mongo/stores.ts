/**
 * The one place the MongoDB stores are built: every process (CLI, API, worker, scheduler, demo)
 * gets them from here, so each store exists once per process and nothing else reads their
 * collections raw. Tests may still build the one store they test.
 */
import type { Db } from 'mongodb';
import type { Clock } from '../../domain/clock.js';
import type { SourceThresholds } from '../../domain/delete-protection.js';
import { ApiTokenStore } from './api-tokens.js';
import { CertificateStore } from './certificates.js';
import { DeleteProtectionStore } from './delete-protection.js';
import { AllowedDestinationStore } from './destinations.js';
import { SyncError } from '../../domain/errors.js';
import { ENCRYPTION_KEYS_VARIABLE, LOCKED_KEY_RING, type KeyRing } from './encryption.js';
import { ImportedObjectStore } from './imported-objects.js';
import { ChangeStore } from './changes.js';
import { KeyCanary } from './key-canary.js';
import { KindListStore } from './kind-lists.js';
import { LeaseStore } from './leases.js';
import { ScheduleOverrideStore } from './schedules.js';
import { SweepRecordStore } from './sweep-records.js';
import { SyncRunStore } from './sync-runs.js';
import { TenantSyncStateStore } from './sync-state.js';
import { DeltaStateStore } from './delta-states.js';
import { TenantStore } from './tenants.js';
import { WebhookDeliveryStore } from './webhook-deliveries.js';
import { WebhookSubscriptionStore } from './webhooks.js';

export interface Stores {
  db: Db;
  /** From openStores: refuses to encrypt with a key the key canary does not hold. */
  keyRing: KeyRing;
  /**
   * Adds the active key to the key canary once another listed key proved to be the database's
   * (`keys add`, `tenants reencrypt`); false when it was there already. Locked stores refuse.
   */
  addActiveKey(): Promise<boolean>;
  tenants: TenantStore;
  certificates: CertificateStore;
  /** The operator API's tokens. */
  tokens: ApiTokenStore;
  /** The allow-list of destinations (the same one the tenant store checks). */
  destinations: AllowedDestinationStore;
  runs: SyncRunStore;
  leases: LeaseStore;
  objects: ImportedObjectStore;
  sweepRecords: SweepRecordStore;
  deleteProtection: DeleteProtectionStore;
  kindLists: KindListStore;
  schedules: ScheduleOverrideStore;
  syncStates: TenantSyncStateStore;
  /** Where each tenant's delta rounds resume (links encrypted with `keyRing`). */
  deltaStates: DeltaStateStore;
  /** Webhook subscriptions (their secrets encrypted with `keyRing`) and the log of their deliveries. */
  webhooks: WebhookSubscriptionStore;
  webhookDeliveries: WebhookDeliveryStore;
  /** The change feed (its records and each tenant's sequence). */
  changes: ChangeStore;
}

export interface StoreOptions {
  /** The global delete thresholds of the process settings (globalDeleteThresholds); default none. */
  deleteThresholds?: SourceThresholds;
  /** Allowed difference between worker clocks when a lease is taken over (LeaseStore's default: 5 s). */
  leaseClockSkewMs?: number;
  /** Where the lease store reads the time (LeaseStore's default: the system clock). */
  clock?: Clock;
  /**
   * A command that encrypts nothing: openStores checks the keys against the key canary and records
   * none, not even a new database's first key. Default false: a process that writes records the
   * first key of a database that has no key canary yet.
   */
  readOnly?: boolean;
  /** How long change records are kept (M365SYNC_CHANGES_RETENTION_DAYS; default 30). */
  changesRetentionDays?: number;
}

/**
 * Builds every store on `db` (no I/O). With LOCKED_KEY_RING (the default) the stores read what is
 * stored in the clear, and anything that would decrypt or encrypt fails with ENCRYPTION_KEY: what
 * the worker's run bookkeeping and the scheduler need.
 */
export function buildStores(
  db: Db,
  keyRing: KeyRing = LOCKED_KEY_RING,
  options: StoreOptions = {},
  canary?: KeyCanary,
): Stores {
  const certificates = new CertificateStore(db, keyRing);
  const destinations = new AllowedDestinationStore(db);
  const tenants = new TenantStore(db, keyRing, destinations, (name, hierarchy) =>
    certificates.findForTenant(name, hierarchy),
  );
  const sweepRecords = new SweepRecordStore(db);
  return {
    db,
    keyRing,
    async addActiveKey() {
      if (!canary)
        throw new SyncError(
          'ENCRYPTION_KEY',
          `${ENCRYPTION_KEYS_VARIABLE} is not set: this command needs it.`,
        );
      return canary.addActiveKey();
    },
    tenants,
    certificates,
    tokens: new ApiTokenStore(db),
    destinations,
    runs: new SyncRunStore(db),
    leases: new LeaseStore(db, {
      ...(options.leaseClockSkewMs === undefined ? {} : { clockSkewMs: options.leaseClockSkewMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    }),
    objects: new ImportedObjectStore(db, sweepRecords),
    sweepRecords,
    deleteProtection: new DeleteProtectionStore(db, options.deleteThresholds),
    kindLists: new KindListStore(db),
    schedules: new ScheduleOverrideStore(db),
    syncStates: new TenantSyncStateStore(db),
    deltaStates: new DeltaStateStore(db, keyRing),
    webhooks: new WebhookSubscriptionStore(db, keyRing, destinations),
    webhookDeliveries: new WebhookDeliveryStore(db),
    changes: new ChangeStore(db, options.changesRetentionDays),
  };
}

/**
 * Opens the stores of a process (CLI, API, worker, scheduler, demo). Checks the key canary first: a
 * wrong M365SYNC_ENCRYPTION_KEYS stops the process here, at start-up.
 */
export async function openStores(db: Db, keyRing: KeyRing, options: StoreOptions = {}): Promise<Stores> {
  // A read-only command without the key has no key to check (it decrypts nothing).
  const canary =
    keyRing === LOCKED_KEY_RING
      ? undefined
      : await KeyCanary.open(db, keyRing, { recordFirstKey: !options.readOnly });
  const stores = buildStores(db, canary?.keyRing ?? keyRing, options, canary);
  await Promise.all([
    stores.certificates.ensureIndexes(),
    stores.tenants.ensureIndexes(),
    stores.tokens.ensureIndexes(),
    stores.webhooks.ensureIndexes(),
    stores.deltaStates.ensureIndexes(),
  ]);
  return stores;
}
