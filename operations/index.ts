/**
 * The operations: every use case the API, the CLI, the console and the scheduler share, each as
 * `op(deps, input)` (operations/deps.ts). Callers import from here.
 */
export type { OperationDeps, Uses } from './deps.js';
export { approveDeletes, type ApprovalResult } from './approve-deletes.js';
export { cancelRun, type CancelOutcome, type CancelResult } from './cancel-run.js';
export { listChanges, type ListChangesRequest } from './list-changes.js';
export { pauseSyncs } from './pause-syncs.js';
export { purgeTenant } from './purge-tenant.js';
export {
  enqueueRecorded,
  requestSync,
  requestSyncOfAll,
  syncKinds,
  type SyncDeps,
  type SyncRequestInput,
} from './request-sync.js';
export {
  clearSchedule,
  setSchedule,
  showSchedule,
  type DeltaScheduleView,
  type ScheduleDeps,
  type ScheduleView,
} from './schedules.js';
export { addTenant, removeTenant, updateTenant } from './tenants.js';
export { testTenantConnection } from './test-tenant-connection.js';
export type { ConnectionCheckResult } from './test-connection.js';
