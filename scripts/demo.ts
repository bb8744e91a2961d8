/**
 * The demo: registers the built-in simulated tenant and shows what the tenant store keeps.
 * (The full pull of that tenant joins this demo when the sync engine lands.)
 */
import { connectMongo } from '../connectors/mongo/connection.js';
import { keyRingFromEnv } from '../connectors/mongo/encryption.js';
import { TENANTS_COLLECTION } from '../connectors/mongo/tenants.js';
import { SyncError } from '../domain/errors.js';
import type { TenantInput } from '../domain/tenant.js';
import { openStores } from './commands/context.js';
import { showTenant } from './commands/tenants.js';

const DEMO_TENANT: TenantInput = {
  hierarchy: 'demo.provider.contoso',
  Tenant: { name: 'Contoso Simulated', description: 'The built-in simulated tenant' },
  'Microsoft Teams Powershell': {
    hostName: '127.0.0.1:15985,127.0.0.1:15986',
    proxyUsername: 'psproxy',
    proxyPassword: 'demo-proxy-password',
  },
  'Microsoft Teams': { tenantUsername: 'teams-admin@tenant1.example', tenantPassword: 'demo-teams-password' },
  'Microsoft 365': {
    client_id: '00000000-0000-4000-8000-00000000d3e0',
    tenant_id: '00000000-0000-4000-8000-0000000c0750',
    client_secret: 'demo-client-secret',
    msol_user_api_page_size: 100,
  },
};

const keyRing = keyRingFromEnv();
const mongo = await connectMongo();
try {
  const stores = await openStores(mongo.db, keyRing);
  const existing = (await stores.tenants.list({ hierarchy: DEMO_TENANT.hierarchy as string }))[0];
  const tenant = existing
    ? await stores.tenants.update(existing.id, DEMO_TENANT)
    : await stores.tenants.add(DEMO_TENANT);
  console.log(
    `\n${existing ? 'Updated' : 'Registered'} the demo tenant; this is what an operator sees (passwords masked):\n`,
  );
  console.log(showTenant(await stores.tenants.show(tenant.id), false));

  const raw = await mongo.db.collection(TENANTS_COLLECTION).findOne({ 'Tenant.name': 'Contoso Simulated' });
  console.log(
    '\nAnd this is how MongoDB holds a password field (AES-256-GCM, key id beside the ciphertext):\n',
  );
  console.log(JSON.stringify((raw?.['Microsoft 365'] as Record<string, unknown>)?.client_secret, null, 2));
  const leaked = ['demo-proxy-password', 'demo-teams-password', 'demo-client-secret'].filter((s) =>
    JSON.stringify(raw).includes(s),
  );
  console.log(
    leaked.length === 0
      ? '\nNo secret is stored in plain text.'
      : `\nPLAIN TEXT FOUND: ${leaked.length} secret(s)`,
  );
  console.log(`\nTenants in ${mongo.db.databaseName}: ${(await stores.tenants.list()).length}`);
} catch (error) {
  console.error(error instanceof SyncError ? `demo failed (${error.code}): ${error.message}` : error);
  process.exitCode = 1;
} finally {
  await mongo.close();
}
