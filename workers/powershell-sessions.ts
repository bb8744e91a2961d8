/**
 * Concurrent PowerShell sessions per tenant account across the fleet
 * (M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT): Teams and Exchange Online refuse sessions past a few per
 * account, and many tenants (or one tenant's Teams and Exchange scripts, or workers on several hosts)
 * may sign in with one. A script holds one slot of its account for as long as its session is open
 * (from before its shell opens to the end of its output), in the same leased Redis semaphore as the
 * shells per proxy (FleetShellSlots), one key per account: `<prefix>:powershell:sessions:<sha256 of
 * the account, 16 hex digits>`. Without Redis (the in-process CLI engine) there is no such limit.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Histogram, Registry } from 'prom-client';
import {
  powershellSessionAccount,
  powershellSessionsKey,
  sessionApplicationLabel,
  type PowerShellApplication,
} from '../connectors/powershell/index.js';
import { FleetShellSlots } from '../connectors/winrm/index.js';
import type { TenantConfig } from '../domain/tenant.js';
import { registry as defaultRegistry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';

const WAIT_METRIC = 'm365sync_powershell_session_wait_seconds';

/** Seconds a script waited for a session slot of its account, by application (teams, exchange). */
export function sessionWaitMetric(r: Registry = defaultRegistry): Histogram<'application'> {
  return metricsOn(r).histogram({
    name: WAIT_METRIC,
    help: 'Time a PowerShell script waited for a free session of its sign-in account across the fleet (M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT)',
    labelNames: ['application'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  });
}

export interface PowerShellSessionsOptions {
  redis: Redis | Cluster;
  /** The key prefix of the shell slots and the Graph limiter. */
  prefix: string;
  /** Sessions per account across every process (M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT). */
  limit: number;
  /**
   * Lease of a slot (M365SYNC_WINRM_SHELL_SLOT_LEASE_MS, as the shell slots').
   * @default WINRM_DEFAULTS.shellSlotLeaseMs (60 s)
   */
  leaseMs?: number;
  /**
   * Longest pause between two tries of a waiter.
   * @default 500 (FleetShellSlots')
   */
  pollMaxMs?: number;
  logger?: Logger;
  /** @default the process registry (observability/metrics.ts) */
  registry?: Registry;
}

/** Takes a session slot of a script's account: resolves with its release once one is free. */
export type AcquireSession = (signal: AbortSignal) => Promise<() => void>;

/** For each script: how it acquires a session of its account (undefined: the tenant names no account). */
export function powershellSessions(
  options: PowerShellSessionsOptions,
): (application: PowerShellApplication, tenant: TenantConfig) => AcquireSession | undefined {
  const wait = sessionWaitMetric(options.registry);
  wait.zero({ application: 'teams' });
  wait.zero({ application: 'exchange' });
  return (application, tenant) => {
    const account = powershellSessionAccount(application, tenant);
    if (!account) return undefined;
    // Holds no state between scripts (the slots are in Redis): one per script is cheap.
    const slots = new FleetShellSlots(options.redis, powershellSessionsKey(options.prefix, account), {
      limit: options.limit,
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.pollMaxMs !== undefined ? { pollMaxMs: options.pollMaxMs } : {}),
      onLeaseProblem: ({ lapsed, error }) =>
        options.logger?.warn(
          {
            application: sessionApplicationLabel(application),
            lapsed,
            err: error instanceof Error ? { message: error.message } : undefined,
          },
          lapsed
            ? 'a PowerShell session slot lease lapsed while its session was open; taken again'
            : 'could not renew a PowerShell session slot lease in Redis; it frees itself if this goes on',
        ),
    });
    return async (signal) => {
      const stop = wait.startTimer({ application: sessionApplicationLabel(application) });
      try {
        return await slots.acquire(signal);
      } finally {
        stop();
      }
    };
  };
}
