/**
 * A worker process of the sessions-per-account test: the production PowerShell step
 * (runPowerShellStep) with the fleet-wide session slots of workers/powershell-sessions.ts, as
 * workers/full-pull.ts makes them, running FLEET_TENANTS tenants' Teams and Exchange scripts at once
 * against one simulated proxy. The tenants share one Teams service account and one app (the simulated
 * tenant accepts only those). Prints one JSON line: the kinds completed, the kinds failed (with their
 * messages) and the seconds waited for sessions (the wait histogram's sum). Configured by REDIS_URL,
 * FLEET_KEY_PREFIX, FLEET_LIMIT, FLEET_PROXY_PORT, FLEET_PROXY_USER, FLEET_PROXY_PASSWORD,
 * FLEET_TENANT_ID, FLEET_ORGANIZATION, FLEET_CLIENT_ID, FLEET_TEAMS_USER, FLEET_TEAMS_PASSWORD,
 * FLEET_THUMBPRINT, FLEET_TENANTS.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  buildExchangePullScript,
  buildTeamsPullScript,
  powershellOutputLimits,
  type PowerShellApplication,
} from '../../../connectors/powershell/index.js';
import { proxyMetrics } from '../../../connectors/winrm/metrics.js';
import { ProxyPool } from '../../../connectors/winrm/proxy-pool.js';
import { DEFAULT_SETTINGS } from '../../../domain/settings.js';
import { validateTenant, type TenantConfig } from '../../../domain/tenant.js';
import { validTenantInput } from '../../../simulators/example-tenant.js';
import { powershellSessions } from '../../../workers/powershell-sessions.js';
import type { KindRun } from '../../../workers/steps/kind-run.js';
import { runPowerShellStep } from '../../../workers/steps/powershell-step.js';

const env = process.env;
const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
const registry = new Registry();
const logger = pino({ level: 'silent' });
const pool = new ProxyPool(
  {
    hosts: [{ host: '127.0.0.1', port: Number(env.FLEET_PROXY_PORT) }],
    scheme: 'http',
    username: env.FLEET_PROXY_USER!,
    password: env.FLEET_PROXY_PASSWORD!,
    // Shells are not the limit under test: this process alone may open one per script.
    maxShellsPerProxy: 20,
  },
  { metrics: proxyMetrics(registry) },
);
const sessionsFor = powershellSessions({
  redis,
  prefix: env.FLEET_KEY_PREFIX!,
  limit: Number(env.FLEET_LIMIT),
  pollMaxMs: 100,
  logger,
  registry,
});

/** What the step does to a kind, recorded (a stand-in for KindRun, which writes to MongoDB). */
const outcomes: { kind: string; status: 'succeeded' | 'failed'; message?: string }[] = [];
const start = (kind: string) => {
  const run = {
    received: 0,
    settled: false,
    async write(batch: unknown[]) {
      run.received += batch.length;
    },
    async complete() {
      run.settled = true;
      outcomes.push({ kind, status: 'succeeded' });
    },
    async fail(error: unknown) {
      run.settled = true;
      outcomes.push({ kind, status: 'failed', message: String((error as Error)?.message ?? error) });
    },
  };
  return run as unknown as KindRun;
};

const tenants: TenantConfig[] = Array.from({ length: Number(env.FLEET_TENANTS) }, (_, i) =>
  validateTenant(
    validTenantInput({
      Tenant: { name: `Shared account ${i}`, description: 'fleet sessions test' },
      'Microsoft Teams Powershell': {
        hostName: `127.0.0.1:${env.FLEET_PROXY_PORT}`,
        proxyUsername: env.FLEET_PROXY_USER!,
        proxyPassword: env.FLEET_PROXY_PASSWORD!,
      },
      'Microsoft Teams': { tenantUsername: env.FLEET_TEAMS_USER!, tenantPassword: env.FLEET_TEAMS_PASSWORD! },
      'Microsoft 365': { client_id: env.FLEET_CLIENT_ID!, tenant_id: env.FLEET_TENANT_ID! },
      'Microsoft Exchange': { enable_exchange: true, exchange_certificate_thumbprint: env.FLEET_THUMBPRINT! },
    }),
  ),
);

const step = (application: PowerShellApplication, tenant: TenantConfig, kind: string, script: string) => {
  const acquireSession = sessionsFor(application, tenant);
  return runPowerShellStep({
    ...(acquireSession ? { acquireSession } : {}),
    application,
    script,
    kinds: [kind],
    pool,
    start,
    signal: new AbortController().signal,
    secrets: [],
    batchSize: 100,
    deadlineMs: 60_000,
    output: powershellOutputLimits(DEFAULT_SETTINGS),
    logger,
  });
};

await Promise.all(
  tenants.flatMap((tenant) => [
    step('Microsoft Teams', tenant, 'teams_users', buildTeamsPullScript(tenant, { kinds: ['teams_users'] })),
    step(
      'Exchange Online',
      tenant,
      'mailboxes',
      buildExchangePullScript(tenant, { kinds: ['mailboxes'], organization: env.FLEET_ORGANIZATION! }),
    ),
  ]),
);
const wait = (await registry.getSingleMetricAsString('m365sync_powershell_session_wait_seconds'))
  .split('\n')
  .filter((l) => l.startsWith('m365sync_powershell_session_wait_seconds_sum'))
  .reduce((n, l) => n + Number(l.split(' ')[1]), 0);
process.stdout.write(
  `${JSON.stringify({
    done: outcomes.filter((o) => o.status === 'succeeded').length,
    failed: outcomes.filter((o) => o.status === 'failed'),
    waitedSeconds: wait,
  })}\n`,
);
pool.close();
redis.disconnect();
