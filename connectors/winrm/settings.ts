import { readFileSync } from 'node:fs';
import { ValidationError } from '../../domain/errors.js';
import type { Settings } from '../../domain/settings.js';
import type { ProxyPoolInput } from './proxy-pool.js';

/**
 * The WinRM settings a deployment chooses (the tenant gives hosts and credentials): the
 * M365SYNC_WINRM_* part of the process settings, passed to proxyPoolForTenant.
 */
export type WinRmSettings = Omit<ProxyPoolInput, 'hosts' | 'username' | 'password'>;

export function winRmSettings(e: Settings): WinRmSettings {
  let ca: Buffer | undefined;
  if (e.M365SYNC_WINRM_CA_FILE) {
    try {
      ca = readFileSync(e.M365SYNC_WINRM_CA_FILE);
    } catch (error) {
      throw new ValidationError('Configuration', [
        {
          field: 'M365SYNC_WINRM_CA_FILE',
          message: `cannot read ${e.M365SYNC_WINRM_CA_FILE}: ${(error as Error).message}`,
        },
      ]);
    }
  }
  return {
    scheme: e.M365SYNC_WINRM_SCHEME,
    ...(ca ? { ca } : {}),
    rejectUnauthorized: e.M365SYNC_WINRM_REJECT_UNAUTHORIZED,
    ...(e.M365SYNC_WINRM_AFFINITY_KEY ? { affinityKey: e.M365SYNC_WINRM_AFFINITY_KEY } : {}),
    maxShellsPerProxy: e.M365SYNC_WINRM_MAX_SHELLS_PER_PROXY,
    operationTimeoutMs: e.M365SYNC_WINRM_OPERATION_TIMEOUT_MS,
    maxEnvelopeSize: e.M365SYNC_WINRM_MAX_ENVELOPE_SIZE,
    idleTimeoutMs: e.M365SYNC_WINRM_IDLE_TIMEOUT_MS,
    coolDownMs: e.M365SYNC_WINRM_COOL_DOWN_MS,
    probeIntervalMs: e.M365SYNC_WINRM_PROBE_INTERVAL_MS,
  };
}
