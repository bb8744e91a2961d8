import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import type { ProxyPoolInput } from './proxy-pool.js';

/**
 * The WinRM settings a deployment chooses (the tenant gives hosts and credentials): read from the
 * environment once, validated, and passed to proxyPoolForTenant.
 */
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const envSchema = z.object({
  M365SYNC_WINRM_SCHEME: z.enum(['http', 'https']).default('https'),
  M365SYNC_WINRM_CA_FILE: z.string().min(1).optional(),
  M365SYNC_WINRM_REJECT_UNAUTHORIZED: flag.default(true),
  M365SYNC_WINRM_AFFINITY_KEY: z.string().min(1).optional(),
  M365SYNC_WINRM_MAX_SHELLS_PER_PROXY: int(1, 29).default(20),
  M365SYNC_WINRM_OPERATION_TIMEOUT_MS: int(100, 60_000).default(20_000),
  M365SYNC_WINRM_IDLE_TIMEOUT_MS: int(1000, 12 * 3_600_000).default(900_000),
  M365SYNC_WINRM_MAX_ENVELOPE_SIZE: int(8192, 10 * 1024 * 1024).default(153_600),
  M365SYNC_WINRM_COOL_DOWN_MS: int(0, 3_600_000).default(30_000),
  M365SYNC_WINRM_PROBE_INTERVAL_MS: int(10, 3_600_000).default(10_000),
});

export type WinRmSettings = Omit<ProxyPoolInput, 'hosts' | 'username' | 'password'>;

export function winRmSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WinRmSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ValidationError(
      'WinRM settings',
      parsed.error.issues.map((i) => ({ field: String(i.path[0]), message: i.message })),
    );
  }
  const e = parsed.data;
  let ca: Buffer | undefined;
  if (e.M365SYNC_WINRM_CA_FILE) {
    try {
      ca = readFileSync(e.M365SYNC_WINRM_CA_FILE);
    } catch (error) {
      throw new ValidationError('WinRM settings', [
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
