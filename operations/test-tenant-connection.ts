/**
 * "Test connection" of a stored tenant, as `m365sync test-connection` and the console's tenant page
 * run it: the tenant decrypted once its destinations pass the allow-list (before anything is
 * contacted), then each check of operations/test-connection.ts. The results say what failed, never a
 * secret.
 */
import { graphCaFromSettings } from '../connectors/graph/index.js';
import { DEFAULT_PORT, winRmSettings } from '../connectors/winrm/index.js';
import { testConnection, type ConnectionCheckResult } from './test-connection.js';
import type { OperationDeps, Uses } from './deps.js';

export async function testTenantConnection(
  deps: Uses<'tenants' | 'certificates', 'settings'> & Partial<Pick<OperationDeps, 'logger'>>,
  input: { tenant: string },
): Promise<ConnectionCheckResult[]> {
  const { stores, settings, logger } = deps;
  const winrm = winRmSettings(settings);
  const tenant = await stores.tenants.getForConnection(input.tenant, DEFAULT_PORT[winrm.scheme ?? 'https']);
  return testConnection({
    tenant,
    certificates: stores.certificates,
    graph: { ca: graphCaFromSettings(settings) },
    winrm,
    allowed: await stores.tenants.destinations.entries(),
    ...(logger ? { logger } : {}),
  });
}
