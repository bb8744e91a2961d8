/**
 * The WinRM connector's defaults that a deployment can change (M365SYNC_WINRM_*), written once: each
 * is that variable's default in domain/settings.ts, never a second copy of the number. The option
 * schemas (options.ts, proxy-pool.ts) and the code that falls back to one read them from here; the
 * defaults no variable sets stay beside their option in those schemas.
 */
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

export const WINRM_DEFAULTS = Object.freeze({
  /** HTTPS (5986) unless told otherwise (M365SYNC_WINRM_SCHEME). */
  scheme: DEFAULT_SETTINGS.M365SYNC_WINRM_SCHEME,
  /** Check the proxy's certificate (M365SYNC_WINRM_REJECT_UNAUTHORIZED). */
  rejectUnauthorized: DEFAULT_SETTINGS.M365SYNC_WINRM_REJECT_UNAUTHORIZED,
  /** w:OperationTimeout, 20 s (M365SYNC_WINRM_OPERATION_TIMEOUT_MS). */
  operationTimeoutMs: DEFAULT_SETTINGS.M365SYNC_WINRM_OPERATION_TIMEOUT_MS,
  /** rsp:IdleTimeOut asked for each shell, 15 minutes (M365SYNC_WINRM_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: DEFAULT_SETTINGS.M365SYNC_WINRM_IDLE_TIMEOUT_MS,
  /** w:MaxEnvelopeSize in bytes, 150 KB (M365SYNC_WINRM_MAX_ENVELOPE_SIZE). */
  maxEnvelopeSize: DEFAULT_SETTINGS.M365SYNC_WINRM_MAX_ENVELOPE_SIZE,
  /** Shells open at once on one proxy, 20 (M365SYNC_WINRM_MAX_SHELLS_PER_PROXY). */
  maxShellsPerProxy: DEFAULT_SETTINGS.M365SYNC_WINRM_MAX_SHELLS_PER_PROXY,
  /** How long a failed proxy stays out of service, 30 s (M365SYNC_WINRM_COOL_DOWN_MS). */
  coolDownMs: DEFAULT_SETTINGS.M365SYNC_WINRM_COOL_DOWN_MS,
  /** How often out-of-service proxies are probed, 10 s (M365SYNC_WINRM_PROBE_INTERVAL_MS). */
  probeIntervalMs: DEFAULT_SETTINGS.M365SYNC_WINRM_PROBE_INTERVAL_MS,
  /** How long a fleet shell slot outlives its holder's last renewal, 60 s (M365SYNC_WINRM_SHELL_SLOT_LEASE_MS). */
  shellSlotLeaseMs: DEFAULT_SETTINGS.M365SYNC_WINRM_SHELL_SLOT_LEASE_MS,
});
