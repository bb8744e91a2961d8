/**
 * "Test connection" of a stored tenant, as `m365sync test-connection` and the console's tenant page
 * run it: the tenant decrypted once its destinations pass the allow-list (before anything is
 * contacted), then each check of operations/test-connection.ts. The results say what failed, never a
 * secret.
 */
import type { Logger } from 'pino';
import { graphCaFromSettings } from '../connectors/graph/index.js';
import type { Stores } from '../connectors/mongo/index.js';
import { DEFAULT_PORT, winRmSettings } from '../connectors/winrm/index.js';
import type { Settings } from '../domain/settings.js';
import { testConnection, type ConnectionCheckResult } from './test-connection.js';

export async function testTenantConnection(
  stores: Pick<Stores, 'tenants' | 'certificates'>,
  settings: Settings,
  ref: string,
  logger?: Logger,
): Promise<ConnectionCheckResult[]> {
  const winrm = winRmSettings(settings);
  const tenant = await stores.tenants.getForConnection(ref, DEFAULT_PORT[winrm.scheme ?? 'https']);
  return testConnection({
    tenant,
    certificates: stores.certificates,
    graph: { ca: graphCaFromSettings(settings) },
    winrm,
    allowed: await stores.tenants.destinations.entries(),
    ...(logger ? { logger } : {}),
  });
}
