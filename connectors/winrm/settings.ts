import { readFileSync } from 'node:fs';
import { ValidationError } from '../../domain/errors.js';
import type { Settings } from '../../domain/settings.js';
import type { ProxyPoolInput } from './proxy-pool.js';

/**
 * The WinRM settings a deployment chooses (the tenant gives hosts and credentials): the
 * M365SYNC_WINRM_* part of the process settings, passed to proxyPoolForTenant.
 */
export type WinRmSettings = Omit<ProxyPoolInput, 'hosts' | 'username' | 'password'>;

export function winRmSettings(settings: Settings): WinRmSettings {
  let ca: Buffer | undefined;
  if (settings.M365SYNC_WINRM_CA_FILE) {
    try {
      ca = readFileSync(settings.M365SYNC_WINRM_CA_FILE);
    } catch (error) {
      throw new ValidationError('Configuration', [
        {
          field: 'M365SYNC_WINRM_CA_FILE',
          message: `cannot read ${settings.M365SYNC_WINRM_CA_FILE}: ${(error as Error).message}`,
        },
      ]);
    }
  }
  return {
    scheme: settings.M365SYNC_WINRM_SCHEME,
    ...(ca ? { ca } : {}),
    rejectUnauthorized: settings.M365SYNC_WINRM_REJECT_UNAUTHORIZED,
    ...(settings.M365SYNC_WINRM_AFFINITY_KEY ? { affinityKey: settings.M365SYNC_WINRM_AFFINITY_KEY } : {}),
    maxShellsPerProxy: settings.M365SYNC_WINRM_MAX_SHELLS_PER_PROXY,
    operationTimeoutMs: settings.M365SYNC_WINRM_OPERATION_TIMEOUT_MS,
    maxEnvelopeSize: settings.M365SYNC_WINRM_MAX_ENVELOPE_SIZE,
    idleTimeoutMs: settings.M365SYNC_WINRM_IDLE_TIMEOUT_MS,
    coolDownMs: settings.M365SYNC_WINRM_COOL_DOWN_MS,
    probeIntervalMs: settings.M365SYNC_WINRM_PROBE_INTERVAL_MS,
  };
}
