/**
 * The full pull of one tenant — the SyncProcessor the worker runs for each job. It loads the tenant
 * with its secrets (in memory only), builds its sync plan and runs the Graph steps, the Teams script
 * and the Exchange script at once; each kind is written as it streams in, swept when complete, and
 * recorded in `sync_runs`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  createGraphConnector,
  exchangeOrganization,
  graphCaFromSettings,
  withNodeExtraCa,
  type GraphConnector,
  type GraphConnectorOptions,
  type GraphKind,
} from '../connectors/graph/index.js';
import type { CertificateStore, Stores, TenantStore } from '../connectors/mongo/index.js';
import { ignoreBecause } from '../domain/ignored-failure.js';
import type { KindResult } from '../domain/sync-run.js';
import {
  buildExchangePullScript,
  buildTeamsPullScript,
  powershellOutputLimits,
  type ExchangeKind,
  type TeamsKind,
} from '../connectors/powershell/index.js';
import {
  DEFAULT_PORT,
  FleetShellSlots,
  fleetShellSlotsKey,
  proxyMetrics,
  proxyPoolForTenant,
  winRmSettings,
  type ProxyPool,
  type ProxyStatus,
  type WinRmSettings,
} from '../connectors/winrm/index.js';
import { guardedLookup } from '../connectors/guarded-lookup.js';
import type { AllowEntry } from '../domain/destinations.js';
import { SyncError } from '../domain/errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { deltaPlan, planKinds, syncPlan } from '../domain/sync-plan.js';
import { tenantSecrets, type Tenant } from '../domain/tenant.js';
import { logger as defaultLogger } from '../observability/logger.js';
import type { SyncProcessor } from './processor.js';
import type { RunSummary } from '../domain/sync-run.js';
import { runGraphSteps, type DeltaStates } from './steps/graph-step.js';
import { runDeltaSteps } from './steps/delta-step.js';
import { KindRun } from './steps/kind-run.js';
import { runPowerShellStep } from './steps/powershell-step.js';
import { attachTeamsMatching, type GraphUsersOutcome } from './steps/teams-matching-step.js';
import { DEFAULT_UNMATCHED_TEAMS_USERS } from '../domain/teams-matching.js';
import { deleteLeftoverShells, type LeftoverShellsReport } from './leftover-shells.js';
import { RedisShellLedger } from './shell-ledger.js';
import { powershellSessions } from './powershell-sessions.js';

export interface FullPullOptions {
  /** The tenant (decrypted, checked against the allow-list), its certificate, its kept sync state. */
  stores: Pick<Stores, 'tenants' | 'certificates' | 'syncStates' | 'deltaStates'>;
  /** Shares Graph request limits per tenant across worker processes (Bottleneck on Redis). */
  redis?: Redis | Cluster;
  graph?: Pick<GraphConnectorOptions, 'limiter' | 'retry' | 'ca' | 'requestTimeoutMs'>;
  /** Replaces winRmSettings(settings) (tests, the in-process engine). */
  winrm?: WinRmSettings;
  /** The process settings: Graph limits and CA, PowerShell limits, WinRM, timings (default: the defaults). */
  settings?: Settings;
  logger?: Logger;
  /**
   * Remember the WinRM shells this process opens in Redis (under this prefix), so a worker that starts
   * after this one died deletes them; without it, only the proxies' idle timeout does.
   */
  shellLedger?: { redis: Redis | Cluster; prefix: string; instanceId?: string };
}

export interface FullPull {
  processor: SyncProcessor;
  /**
   * Before taking jobs: marks this process alive in the shell ledger and deletes the shells that dead
   * workers left open on the proxies (nothing to do without a ledger).
   */
  start(): Promise<LeftoverShellsReport | undefined>;
  /** Every proxy of every tenant pool this process has made, in or out of service (health, tests). */
  proxyStatus(): ProxyStatus[];
  /** At worker shutdown: deletes the shells still open, then closes the proxy pools this process keeps. */
  close(): Promise<void>;
}

export function createFullPull(options: FullPullOptions): FullPull {
  const settings = options.settings ?? DEFAULT_SETTINGS;
  // No `component` here: the connectors bind their own, and pino would repeat the key in each line.
  const log = options.logger ?? defaultLogger;
  const winrm = options.winrm ?? winRmSettings(settings);
  const graphCa =
    options.graph?.ca !== undefined
      ? withNodeExtraCa(options.graph.ca, settings)
      : graphCaFromSettings(settings);
  const outputLimits = powershellOutputLimits(settings);
  const metrics = proxyMetrics(undefined, { perProxy: settings.M365SYNC_METRICS_PROXY_LABEL });
  const ledger = options.shellLedger
    ? new RedisShellLedger(options.shellLedger.redis, {
        prefix: options.shellLedger.prefix,
        instanceId:
          options.shellLedger.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
        aliveTtlMs: settings.SYNC_SHELL_LEDGER_ALIVE_MS,
      })
    : undefined;

  // One pool per set of proxies and account, kept for the life of the worker: its proxy health and
  // shell slots are what IP affinity and the per-proxy cap rely on.
  const pools = new Map<string, ProxyPool>();
  // The prefix of the fleet's limits in Redis (Graph limiter and app budget, shell and session slots):
  // the deployment's M365SYNC_QUEUE_PREFIX, so one setting names all of a deployment's keys.
  const keyPrefix = options.graph?.limiter?.keyPrefix ?? settings.M365SYNC_QUEUE_PREFIX;
  // Shells per proxy across the fleet, in Redis beside the Graph limiter (same key prefix); without
  // Redis, the pool's own per-process slots.
  const fleetRedis = options.redis;
  const slotsFor = fleetRedis
    ? (proxy: string, limit: number) =>
        new FleetShellSlots(fleetRedis, fleetShellSlotsKey(keyPrefix, proxy), {
          limit,
          leaseMs: settings.M365SYNC_WINRM_SHELL_SLOT_LEASE_MS,
          onLeaseProblem: ({ lapsed, error }) =>
            log.warn(
              { proxy, lapsed, err: error instanceof Error ? { message: error.message } : undefined },
              lapsed
                ? 'a shell slot lease lapsed while its shell was open (Redis or this process was held up); taken again'
                : 'could not renew a shell slot lease in Redis; it frees itself if this goes on',
            ),
        })
    : undefined;
  // Concurrent PowerShell sessions per sign-in account across the fleet, in the same Redis and under
  // the same prefix; without Redis, no such limit (the in-process engine runs one tenant at a time).
  const sessionsFor = fleetRedis
    ? powershellSessions({
        redis: fleetRedis,
        prefix: keyPrefix,
        limit: settings.M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT,
        leaseMs: settings.M365SYNC_WINRM_SHELL_SLOT_LEASE_MS,
        logger: log,
      })
    : undefined;
  // The allow-list as last read (at the start of each job): every new socket's name resolution is
  // checked against it (connectors/guarded-lookup.ts).
  let allowed: readonly AllowEntry[] = [];
  const currentAllowed = () => allowed;
  const poolFor = (tenant: Tenant) => {
    const group = tenant['Microsoft Teams Powershell'];
    const key = createHash('sha256')
      .update(`${group.hostName}\n${group.proxyUsername}\n${group.proxyPassword}`)
      .digest('hex');
    let pool = pools.get(key);
    if (!pool) {
      // The tenant id goes with each shell into the ledger: how a later worker finds the account.
      pool = proxyPoolForTenant(tenant, winrm, {
        logger: log,
        metrics,
        ledger,
        owner: tenant.id,
        ...(slotsFor ? { slotsFor } : {}),
        lookupFor: (port) => guardedLookup('powershell', currentAllowed, port),
      });
      pools.set(key, pool);
    }
    return pool;
  };

  const processor: SyncProcessor = async (ctx) => {
    const { signal } = ctx;
    // The run's logger (its run id, job and tenant bound): every line of the run, Graph's and WinRM's
    // included, says which run and tenant it belongs to.
    const runLog = ctx.logger;
    const tenant = await loadTenant(options.stores.tenants, ctx.tenant.id, winRmDefaultPort(winrm));
    allowed = await options.stores.tenants.destinations.entries();
    const delta = ctx.mode === 'delta';
    const plan = delta ? deltaPlan(syncPlan(tenant, ctx.kinds)) : syncPlan(tenant, ctx.kinds);
    const kinds = planKinds(plan);
    if (kinds.length === 0) {
      throw new SyncError(
        'CONFIGURATION',
        `Nothing to sync: none of the kinds asked for (${ctx.kinds?.join(', ')}) applies to this tenant.`,
      );
    }
    const results: Record<string, KindResult> = {};
    const retryable: boolean[] = [];
    let done = 0;
    // Teams users are matched to this run's Graph users when it pulls them (teams-matching-step.ts).
    let graphUsersSettled: (outcome: GraphUsersOutcome) => void = () => {};
    const graphUsers = plan.graph.includes('users')
      ? new Promise<GraphUsersOutcome>((resolve) => (graphUsersSettled = resolve))
      : Promise.resolve<GraphUsersOutcome>('absent');
    const start = (kind: string) => {
      const run = new KindRun(
        kind,
        ctx,
        (k, result, mayRetry) => {
          results[k] = result;
          done++;
          // The flag comes from the kind's own error (a SyncError knows); the recorded {code, message}
          // no longer does, so it is never re-classified here.
          if (result.status === 'failed' || result.status === 'cancelled') retryable.push(mayRetry ?? true);
          if (k === 'users')
            graphUsersSettled(
              result.status === 'succeeded' || result.status === 'needs_review' ? 'completed' : 'failed',
            );
        },
        { prepare: !delta },
      );
      if (kind === 'teams_users') {
        attachTeamsMatching(run, {
          seenUser: (id) => ctx.seen('users', id),
          storedUsers: () => ctx.stored('users'),
          graphUsers,
          waitMs: settings.SYNC_TEAMS_MATCH_WAIT_MS,
          option: tenant['Sync Filters']?.unmatched_teams_users ?? DEFAULT_UNMATCHED_TEAMS_USERS,
          signal,
        });
      }
      return run;
    };
    const secrets = tenantSecrets(tenant);
    const failAll = async (kindsOfStep: readonly string[], error: unknown) => {
      for (const kind of kindsOfStep) if (!results[kind]) await start(kind).fail(error, signal);
    };

    // One Graph connector per run, made when first needed: by the Graph steps, and by the Exchange
    // step for the tenant's initial domain.
    let graphConnector: Promise<GraphConnector> | undefined;
    const graph = () =>
      (graphConnector ??= graphCertificate(options.stores.certificates, tenant).then((certificate) =>
        createGraphConnector({
          tenant,
          certificate,
          ca: graphCa,
          redis: options.redis,
          limiter: {
            keyPrefix,
            appRequestsPerWindow: settings.GRAPH_APP_REQUESTS_PER_WINDOW,
            appWindowMs: settings.GRAPH_APP_WINDOW_MS,
            ...options.graph?.limiter,
          },
          retry: options.graph?.retry,
          requestTimeoutMs: options.graph?.requestTimeoutMs,
          requestDeadlineMs: settings.GRAPH_REQUEST_DEADLINE_MS,
          maxResponseBytes: settings.GRAPH_MAX_RESPONSE_BYTES,
          allowedDestinations: currentAllowed,
          logger: runLog,
        }),
      ));

    const steps: Promise<void>[] = [];
    if (plan.graph.length > 0) {
      steps.push(
        (async () => {
          const kindsOfStep = plan.graph as GraphKind[];
          const stored = options.stores.deltaStates;
          const states: DeltaStates = {
            read: (kind) => stored.get(ctx.tenant.id, kind),
            save: (kind, state) => ctx.saveDeltaState(kind, stored.seal(ctx.tenant.id, kind, state)),
          };
          if (delta) {
            const o = { graph: await graph(), kinds: kindsOfStep, start, states, ctx, tenant, signal };
            await runDeltaSteps({ ...o, log: runLog });
            return;
          }
          const seeding = settings.M365SYNC_DELTA
            ? { states, usersFiltered: Boolean(tenant['Sync Filters']?.graph_users_filter), log: runLog }
            : undefined;
          await runGraphSteps(await graph(), kindsOfStep, start, signal, seeding);
        })().catch((error) => failAll(plan.graph, error)),
      );
    }
    const powershell = (
      application: 'Microsoft Teams' | 'Exchange Online',
      kindsOfStep: string[],
      script: () => string | Promise<string>,
    ) =>
      (async () => {
        const acquireSession = sessionsFor?.(application, tenant);
        await runPowerShellStep({
          ...(acquireSession ? { acquireSession } : {}),
          application,
          script: await script(),
          kinds: kindsOfStep,
          pool: poolFor(tenant),
          start,
          signal,
          secrets,
          batchSize: settings.SYNC_POWERSHELL_BATCH,
          deadlineMs: settings.SYNC_POWERSHELL_DEADLINE_MS,
          output: outputLimits,
          logger: runLog,
        });
      })().catch((error) => failAll(kindsOfStep, error));
    if (plan.teams.length > 0) {
      steps.push(
        powershell('Microsoft Teams', plan.teams, () =>
          buildTeamsPullScript(tenant, { kinds: plan.teams as TeamsKind[] }),
        ),
      );
    }
    if (plan.exchange.length > 0) {
      steps.push(
        powershell('Exchange Online', plan.exchange, async () => {
          const organization = await exchangeOrganization({
            tenantId: ctx.tenant.id,
            tenant,
            graph,
            states: options.stores.syncStates,
            signal,
            logger: runLog,
          });
          return buildExchangePullScript(tenant, { kinds: plan.exchange as ExchangeKind[], organization });
        }),
      );
    }
    try {
      await Promise.all(steps);
    } finally {
      const made = await graphConnector?.catch(
        ignoreBecause(
          'a Graph connector that failed to open was reported by the step that asked for it',
          runLog,
        ),
      );
      await made?.close();
    }
    runLog.info({ kinds: done }, 'full pull finished');

    const summary: RunSummary = { kinds: results };
    // Only when everything failed does the run as a whole retry, and only if some failure may pass.
    if (Object.values(results).every((r) => r.status !== 'succeeded' && r.status !== 'needs_review'))
      summary.retryable = retryable.some(Boolean);
    return summary;
  };

  return {
    processor,
    proxyStatus: () => [...pools.values()].flatMap((pool) => pool.status()),
    async start() {
      if (!ledger) return undefined;
      await ledger.start();
      const report = await deleteLeftoverShells({
        ledger,
        tenants: options.stores.tenants,
        winrm,
        logger: log,
      });
      if (report.deleted + report.gone + report.kept + report.dropped > 0)
        log.info(report, 'leftover WinRM shells of stopped workers handled');
      return report;
    },
    async close() {
      // Runs that did not stop in time (or a stuck cleanup) may still hold shells: delete them now,
      // rather than leave them on the proxy until its idle timeout.
      const deleted = (await Promise.all([...pools.values()].map((p) => p.deleteOpenShells()))).reduce(
        (n, c) => n + c,
        0,
      );
      if (deleted > 0) log.info({ deleted }, 'deleted the WinRM shells still open at shutdown');
      for (const pool of pools.values()) pool.close();
      pools.clear();
      await ledger
        ?.stop()
        .catch(ignoreBecause("at shutdown: this instance's alive mark lapses by itself", log));
    },
  };
}

/** The WinRM port of a PowerShell host given without one, as the proxy pool will use it. */
export function winRmDefaultPort(winrm: WinRmSettings): number {
  return DEFAULT_PORT[winrm.scheme ?? 'https'];
}

/** The tenant, decrypted, once its destinations are checked against the allow-list (before any connection). */
async function loadTenant(tenants: TenantStore, id: string, powershellPort: number): Promise<Tenant> {
  try {
    return await tenants.getForConnection(id, powershellPort);
  } catch (error) {
    if (error instanceof SyncError && error.code === 'NOT_FOUND') {
      throw new SyncError('NOT_FOUND', `Tenant ${id} no longer exists; its sync is dropped.`);
    }
    throw error;
  }
}

async function graphCertificate(certificates: CertificateStore, tenant: Tenant) {
  const m365 = tenant['Microsoft 365'];
  if (m365.client_secret || !m365.certificate_bkey) return undefined;
  const { certificatePem, privateKeyPem } = await certificates.getWithKey(
    m365.certificate_bkey,
    tenant.hierarchy,
  );
  return { certificatePem, privateKeyPem };
}
