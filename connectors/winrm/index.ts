/** The WinRM connector's public surface: what the sync engine and the CLI import. */
export { WinRmClient, type RunOptions, type WinRmClientDeps } from './client.js';
export type { OpenShellEntry, ShellLedger } from './shell-ledger.js';
export { Shell, type ReceiveResult } from './shell.js';
export { Execution, type ExecuteOptions, type ExecutionResult, type OutputChunk } from './execution.js';
export {
  ProxyPool,
  proxyPoolForTenant,
  proxyPoolOptionsSchema,
  type ProxyPoolInput,
  type ProxyPoolOptions,
  type ProxyStatus,
} from './proxy-pool.js';
export {
  DEFAULT_PORT,
  winRmClientOptionsSchema,
  type WinRmClientInput,
  type WinRmClientOptions,
} from './options.js';
export { FleetShellSlots, fleetShellSlotsKey } from './fleet-shell-slots.js';
export type { SlotSemaphore } from './shell-slots.js';
export { WinRmError, type SoapFault } from './errors.js';
export { defaultAffinityKey, rendezvousOrder } from './affinity.js';
export { proxyMetrics, type ProxyMetrics } from './metrics.js';
export { winRmSettings, type WinRmSettings } from './settings.js';
export { WINRM_DEFAULTS } from './defaults.js';
