/**
 * The public entrance of connectors/mongo: what the rest of the engine (api/, cli/, queues/,
 * operations/, workers/, observability/) may use of the store. Its modules import one another
 * directly; everything outside imports from here (eslint.config.js, "Import rules").
 */
export type { ApiTokenStore } from './api-tokens.js';
export type { CertificateStore } from './certificates.js';
export type { ChangePage } from './changes.js';
export { connectMongo, isMongoUnavailable } from './connection.js';
export type { MongoConnection } from './connection.js';
export type { ProtectionLevel } from './delete-protection.js';
export type { DeltaState, DeltaStateRead, SealedDeltaState } from './delta-states.js';
export type { AllowedDestinationStore } from './destinations.js';
export { ENCRYPTION_KEYS_VARIABLE, keyRingOf, LOCKED_KEY_RING } from './encryption.js';
export type { PageCounts, TenantRef } from './imported-objects.js';
export type { KindWriter } from './kind-writer.js';
export type { Lease, LeaseStore, WriteFence } from './leases.js';
export type { ScheduleOverride } from './schedules.js';
export type { StoredKeys } from './stored-keys.js';
export type { TenantRunSummary } from './run-summaries.js';
export { buildStores, openStores } from './stores.js';
export type { Stores } from './stores.js';
export type { SweepRecordStore } from './sweep-records.js';
export type { SyncRunStore } from './sync-runs.js';
export type { TenantStore } from './tenants.js';
export type { DeliveryOutcome, WebhookDeliveryStore } from './webhook-deliveries.js';
export type { WebhookSubscriptionStore } from './webhooks.js';
