/**
 * "Test connection" for a tenant, as an operator runs it before the first sync: a Graph token and one
 * read of each Graph endpoint, the Teams sign-in with `Get-CsOnlineUser -ResultSize 1`, and one
 * mailbox from Exchange when it is enabled. Each is reported on its own, with what to do when it fails.
 */
import type { Logger } from 'pino';
import {
  createGraphConnector,
  exchangeOrganization,
  type GraphConnector,
  type GraphConnectorOptions,
} from '../connectors/graph/index.js';
import type { CertificateStore } from '../connectors/mongo/index.js';
import {
  buildExchangeTestScript,
  buildTeamsTestScript,
  scriptFailure,
  splitScriptOutput,
  type PowerShellApplication,
} from '../connectors/powershell/index.js';
import { proxyPoolForTenant, type WinRmSettings } from '../connectors/winrm/index.js';
import { guardedLookup } from '../connectors/guarded-lookup.js';
import type { AllowEntry } from '../domain/destinations.js';
import { SyncError } from '../domain/errors.js';
import { tenantSecrets, type Tenant } from '../domain/tenant.js';

export interface ConnectionCheckResult {
  check: 'graph' | 'teams' | 'exchange';
  ok: boolean;
  durationMs: number;
  detail: string;
}

export interface TestConnectionOptions {
  tenant: Tenant;
  certificates: CertificateStore;
  graph?: Pick<GraphConnectorOptions, 'ca'>;
  winrm: WinRmSettings;
  signal?: AbortSignal;
  logger?: Logger;
  /** The destinations allow-list: names resolving to private addresses it does not name are refused. */
  allowed?: readonly AllowEntry[];
}

export async function testConnection(options: TestConnectionOptions): Promise<ConnectionCheckResult[]> {
  const checks = [graphCheck(options), powershellCheck(options, 'Microsoft Teams')];
  if (options.tenant['Microsoft Exchange'].enable_exchange)
    checks.push(powershellCheck(options, 'Exchange Online'));
  return Promise.all(checks);
}

async function timed(
  check: ConnectionCheckResult['check'],
  run: () => Promise<string>,
): Promise<ConnectionCheckResult> {
  // The check's time is read once it has ended: awaited first, then measured (performance.now(), so a
  // fast loopback check is not rounded down to 0 ms).
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const detail = await run();
    return { check, ok: true, durationMs: elapsed(), detail };
  } catch (error) {
    const detail = error instanceof SyncError ? `${error.code}: ${error.message}` : (error as Error).message;
    return { check, ok: false, durationMs: elapsed(), detail };
  }
}

async function graphConnector(options: TestConnectionOptions): Promise<GraphConnector> {
  const m365 = options.tenant['Microsoft 365'];
  const certificate =
    !m365.client_secret && m365.certificate_bkey
      ? await options.certificates.getWithKey(m365.certificate_bkey, options.tenant.hierarchy)
      : undefined;
  return createGraphConnector({
    tenant: options.tenant,
    certificate,
    ca: options.graph?.ca,
    logger: options.logger,
    ...(options.allowed ? { allowedDestinations: () => options.allowed! } : {}),
  });
}

function graphCheck(options: TestConnectionOptions): Promise<ConnectionCheckResult> {
  return timed('graph', async () => {
    const graph = await graphConnector(options);
    try {
      const result = await graph.testConnection({ signal: options.signal });
      const failed = result.checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        // Each read failed for its own reason: a missing permission, a missing endpoint (wrong base
        // URL or cloud), throttling… each is named with its code and what to do.
        throw new Error(
          failed
            .map((c) => `${c.code ?? 'GRAPH_REQUEST'}: ${c.message ?? `${c.endpoint} failed`}`)
            .join('; '),
        );
      }
      return `token and ${result.checks.map((c) => c.endpoint).join(', ')} read${result.organization ? ` (${result.organization.displayName})` : ''}`;
    } finally {
      await graph.close();
    }
  });
}

function powershellCheck(
  options: TestConnectionOptions,
  application: PowerShellApplication,
): Promise<ConnectionCheckResult> {
  const check = application === 'Microsoft Teams' ? 'teams' : 'exchange';
  return timed(check, async () => {
    // Exchange signs in to the tenant's initial domain, read from Graph as the sync reads it.
    const organization = check === 'exchange' ? await exchangeOrganizationFromGraph(options) : undefined;
    const pool = proxyPoolForTenant(options.tenant, options.winrm, {
      logger: options.logger,
      ...(options.allowed
        ? { lookupFor: (port: number) => guardedLookup('powershell', () => options.allowed!, port) }
        : {}),
    });
    try {
      const script =
        check === 'teams'
          ? buildTeamsTestScript(options.tenant)
          : buildExchangeTestScript(options.tenant, { organization: organization! });
      const execution = pool.execute(script, { signal: options.signal, deadlineMs: 120_000 });
      const secrets = tenantSecrets(options.tenant);
      const output = splitScriptOutput(execution, { secrets });
      let objects = 0;
      let sawDone = false;
      let kindError: string | undefined;
      for await (const record of output.records) {
        if (record.t === 'obj') objects++;
        else if (record.t === 'err') kindError = record.message;
        else if (record.t === 'done') sawDone = true;
      }
      const result = await execution.result;
      const failure = scriptFailure(application, result.exitCode, output.errors(), secrets, sawDone);
      if (failure) throw failure;
      if (kindError) throw new SyncError('POWERSHELL_ERROR', `${application}: ${kindError}`);
      return `signed in through ${result.proxy}; read ${objects} ${check === 'teams' ? 'Teams user' : 'mailbox'}${objects === 1 ? '' : 's'}`;
    } finally {
      pool.close();
    }
  });
}

async function exchangeOrganizationFromGraph(options: TestConnectionOptions): Promise<string> {
  let made: GraphConnector | undefined;
  try {
    return await exchangeOrganization({
      tenantId: options.tenant.id,
      tenant: options.tenant,
      graph: async () => (made = await graphConnector(options)),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  } finally {
    await made?.close();
  }
}
