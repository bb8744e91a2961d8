/**
 * A whole simulated Microsoft 365 tenant on loopback: the Graph simulator (with its sign-in) and
 * several simulated PowerShell proxies over one data set, plus the tenant connection that reaches
 * them. Used by the end-to-end tests, the demo and the benchmarks. The data set and the PowerShell
 * faults can change between runs.
 */
import type { TenantInput } from '../domain/tenant.js';
import { generateDataset, type Dataset, type DatasetOptions } from './dataset.js';
import { startGraphSimulator, type DeltaOptions, type GraphSimulator } from './graph/server.js';
import { createTenantScriptHost, type TenantFaults } from './powershell/tenant-host.js';
import { startWinRmSimulator, type WinRmSimulator } from './winrm/server.js';

export interface SimulatedTenantOptions {
  dataset?: Dataset | DatasetOptions;
  /** How many simulated PowerShell proxies (default 2). */
  proxies?: number;
  /** Ports: 0 (default) picks free ones. */
  graphPort?: number;
  /**
   * The address Graph and the proxies listen on and the tenant connection names (default 127.0.0.1):
   * a test whose workers run in network namespaces gives its bridge's address.
   */
  host?: string;
  proxyPorts?: number[];
  hierarchy?: string;
  name?: string;
  enableExchange?: boolean;
  /** PEM certificates registered on the simulated app, for certificate sign-in (besides its secret). */
  appCertificates?: string[];
  /** Pacing, for benchmarks: extra time before each Graph response (a page), in ms. */
  graphLatencyMs?: number;
  /** Pacing, for benchmarks: objects per second each PowerShell cmdlet (kind) produces. */
  objectsPerSecond?: number;
  /** Graph delta query: page size, token lifetime, duplicates, late and replayed changes. */
  graphDelta?: DeltaOptions;
}

export interface SimulatedTenant {
  graph: GraphSimulator;
  proxies: WinRmSimulator[];
  /** The tenant connection to register: it reaches these simulators with accepted credentials. */
  tenantInput: TenantInput;
  /**
   * The allow-list entries the tenant connection needs (`m365sync destinations allow <kind> <entry>`):
   * the simulators listen on loopback, which no tenant may reach unless allowed.
   */
  destinations: { kind: 'graph' | 'powershell'; entry: string }[];
  /** PEM of the CA the Graph simulator's certificate is signed by (trust it: M365SYNC_GRAPH_CA_FILE). */
  ca: string;
  dataset(): Dataset;
  /** The next run sees this data set, through Graph and PowerShell alike. */
  setDataset(ds: Dataset): void;
  /** Faults of the simulated Teams/Exchange side for the next scripts (e.g. a kind failing mid-way). */
  setPowerShellFaults(faults: TenantFaults): void;
  /** Every -Filter the PowerShell cmdlets received, oldest first, exactly as bound. */
  filtersReceived(): { command: string; filter: unknown }[];
  close(): Promise<void>;
}

/** Credentials the simulated tenant accepts; simulated, so fine in code (never real ones). */
export const SIMULATED_CREDENTIALS = {
  clientId: '00000000-0000-4000-8000-00000000d3e0',
  clientSecret: 'simulated-client-secret',
  proxyUsername: 'svc-psproxy',
  proxyPassword: 'simulated-proxy-password',
  teamsUsername: 'teams-admin@contoso.example',
  teamsPassword: 'simulated-teams-password',
  exchangeThumbprint: 'E1E2E3E4E5E6E7E8E9E0E1E2E3E4E5E6E7E8E9E0',
} as const;

export async function startSimulatedTenant(options: SimulatedTenantOptions = {}): Promise<SimulatedTenant> {
  let dataset = isDataset(options.dataset) ? options.dataset : generateDataset(options.dataset ?? {});
  let faults: TenantFaults = {};
  const filters: { command: string; filter: unknown }[] = [];
  const c = SIMULATED_CREDENTIALS;
  const host = options.host ?? '127.0.0.1';
  const graph = await startGraphSimulator({
    dataset,
    apps: [
      {
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        ...(options.appCertificates ? { certificates: options.appCertificates } : {}),
      },
    ],
    port: options.graphPort ?? 0,
    host,
    ...(options.graphLatencyMs ? { latencyMs: options.graphLatencyMs } : {}),
    ...(options.graphDelta ? { delta: options.graphDelta } : {}),
  });
  const proxies: WinRmSimulator[] = [];
  try {
    for (let i = 0; i < (options.proxies ?? 2); i++) {
      proxies.push(
        await startWinRmSimulator({
          port: options.proxyPorts?.[i] ?? 0,
          host,
          hostName: `PSPROXY0${i + 1}`,
          accounts: [{ username: c.proxyUsername, password: c.proxyPassword }],
          scriptHost: createTenantScriptHost({
            dataset: () => dataset,
            faultsRef: () => faults,
            teamsAccounts: [{ username: c.teamsUsername, password: c.teamsPassword }],
            certificateThumbprints: [c.exchangeThumbprint],
            ...(options.objectsPerSecond ? { objectsPerSecond: options.objectsPerSecond } : {}),
            onFilter: (command, filter) => {
              if (filters.length < 1000) filters.push({ command, filter });
            },
          }),
        }),
      );
    }
  } catch (error) {
    await Promise.all([graph.close(), ...proxies.map((p) => p.close())]);
    throw error;
  }

  const tenantInput: TenantInput = {
    hierarchy: options.hierarchy ?? 'demo.provider.contoso',
    Tenant: { name: options.name ?? 'Contoso Simulated', description: 'The built-in simulated tenant' },
    'Microsoft Teams Powershell': {
      hostName: proxies.map((p) => `${host}:${p.port}`).join(','),
      proxyUsername: c.proxyUsername,
      proxyPassword: c.proxyPassword,
    },
    'Microsoft Teams': { tenantUsername: c.teamsUsername, tenantPassword: c.teamsPassword },
    'Microsoft 365': {
      client_id: c.clientId,
      tenant_id: dataset.tenantId,
      client_secret: c.clientSecret,
      graph_base_url: graph.url,
      authority_host: graph.authorityHost,
    },
    'Microsoft Exchange': options.enableExchange
      ? { enable_exchange: true, exchange_certificate_thumbprint: c.exchangeThumbprint }
      : { enable_exchange: false },
  };

  const graphUrl = new URL(graph.url);
  const authorityUrl = new URL(graph.authorityHost);
  return {
    graph,
    proxies,
    tenantInput,
    destinations: [
      ...[...new Set([graphUrl.host, authorityUrl.host])].map((entry) => ({ kind: 'graph' as const, entry })),
      ...proxies.map((p) => ({ kind: 'powershell' as const, entry: `${host}:${p.port}` })),
    ],
    ca: graph.ca,
    dataset: () => dataset,
    setDataset(ds) {
      dataset = ds;
      graph.setDataset(ds);
    },
    setPowerShellFaults(next) {
      faults = next;
    },
    filtersReceived: () => [...filters],
    async close() {
      await Promise.all([graph.close(), ...proxies.map((p) => p.close())]);
    },
  };
}

function isDataset(d: SimulatedTenantOptions['dataset']): d is Dataset {
  return d !== undefined && 'users' in d && Array.isArray((d as Dataset).users);
}
