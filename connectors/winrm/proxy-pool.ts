import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import { parsePowerShellHosts, type PowerShellHost } from '../../domain/powershell-hosts.js';
import type { TenantConfig } from '../../domain/tenant.js';
import { logger as defaultLogger } from '../../observability/logger.js';
import { bootstrapCommand } from './bootstrap.js';
import { defaultAffinityKey, rendezvousOrder } from './affinity.js';
import { WinRmClient, type RunOptions, type WinRmClientDeps } from './client.js';
import { WinRmError } from './errors.js';
import { Execution, type ExecuteOptions, type ExecutionResult, type OutputChunk } from './execution.js';
import { WINRM_DEFAULTS } from './defaults.js';
import { proxyMetrics, type ProxyMetrics } from './metrics.js';
import { DEFAULT_PORT, winRmClientOptionsSchema } from './options.js';
import { ShellSlots, type SlotSemaphore } from './shell-slots.js';

/** Client options shared by every proxy of the pool (host and port come from `hosts`). */
const sharedClientOptions = winRmClientOptionsSchema.omit({ host: true, port: true });

export const proxyPoolOptionsSchema = sharedClientOptions.extend({
  /** The proxies: `Microsoft Teams Powershell.hostName` parsed by parsePowerShellHosts. */
  hosts: z
    .array(z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535).optional() }))
    .min(1),
  /** What this worker hashes to choose its proxy; default: its own address (see affinity.ts). */
  affinityKey: z.string().min(1).optional(),
  /**
   * Shells open at once on one proxy, below the server's MaxShellsPerUser (30): across the fleet when
   * the pool is given `slotsFor` (FleetShellSlots in Redis, what workers do), else in this process.
   * @default WINRM_DEFAULTS.maxShellsPerProxy (20)
   */
  maxShellsPerProxy: z.number().int().min(1).max(29).default(WINRM_DEFAULTS.maxShellsPerProxy),
  /**
   * How long a failed proxy stays out of service before health probes may bring it back.
   * @default WINRM_DEFAULTS.coolDownMs (30 s)
   */
  coolDownMs: z.number().int().min(0).default(WINRM_DEFAULTS.coolDownMs),
  /**
   * How often out-of-service proxies are probed (WS-Management Identify with our credentials).
   * @default WINRM_DEFAULTS.probeIntervalMs (10 s)
   */
  probeIntervalMs: z.number().int().min(10).default(WINRM_DEFAULTS.probeIntervalMs),
});

export type ProxyPoolInput = z.input<typeof proxyPoolOptionsSchema>;
export type ProxyPoolOptions = z.output<typeof proxyPoolOptionsSchema>;

export interface ProxyStatus {
  proxy: string;
  inService: boolean;
  /** Shells open now / the most at once. */
  openShells: number;
  peakShells: number;
  waiting: number;
  /** When the cool-down ends (epoch ms); 0 while in service. */
  outOfServiceUntil: number;
}

interface PoolProxy {
  key: string;
  client: WinRmClient;
  slots: SlotSemaphore;
  inService: boolean;
  outUntil: number;
  probing: boolean;
}

export type ProxyPoolDeps = WinRmClientDeps & {
  metrics?: ProxyMetrics;
  lookupFor?: (port: number) => LookupFunction;
  /** The shell slots of one proxy (`host:port`): FleetShellSlots for a limit across processes. */
  slotsFor?: (proxy: string, limit: number) => SlotSemaphore;
};

/** Errors that say "this proxy is unwell" (take it out, try the next) rather than "this command is wrong". */
const PROXY_FAULTS = new Set(['PROXY_UNAVAILABLE', 'WINRM_SHELL_NOT_FOUND']);

/**
 * The PowerShell proxy pool: spreads a tenant's commands over its proxies with IP affinity. Each
 * worker prefers one proxy (rendezvous hashing of its affinity key); a proxy that fails goes out of
 * service for a cool-down and the worker moves to its next proxy, and back once a health probe
 * succeeds. At most `maxShellsPerProxy` shells at once per proxy (more callers wait for a slot).
 */
export class ProxyPool {
  readonly options: ProxyPoolOptions;
  readonly affinityKey: string;
  /** This worker's order of preference. */
  readonly order: readonly string[];
  private readonly proxies = new Map<string, PoolProxy>();
  private readonly metrics: ProxyMetrics;
  private readonly log: Logger;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private orderLogged = false;

  constructor(input: ProxyPoolInput, deps: ProxyPoolDeps = {}) {
    this.options = proxyPoolOptionsSchema.parse(input);
    this.log = (deps.logger ?? defaultLogger).child({ component: 'powershell-proxy-pool' });
    this.metrics = deps.metrics ?? proxyMetrics();
    this.affinityKey = this.options.affinityKey ?? defaultAffinityKey();
    const {
      hosts,
      affinityKey: _a,
      maxShellsPerProxy,
      coolDownMs: _c,
      probeIntervalMs,
      ...clientOptions
    } = this.options;
    for (const host of hosts) {
      const port = host.port ?? DEFAULT_PORT[this.options.scheme];
      const client = new WinRmClient(
        { ...clientOptions, host: host.host, port },
        {
          logger: deps.logger,
          ledger: deps.ledger,
          owner: deps.owner,
          ...(deps.lookupFor ? { lookup: deps.lookupFor(port) } : {}),
        },
      );
      if (this.proxies.has(client.proxy)) {
        client.close();
        continue;
      }
      this.proxies.set(client.proxy, {
        key: client.proxy,
        client,
        slots: deps.slotsFor?.(client.proxy, maxShellsPerProxy) ?? new ShellSlots(maxShellsPerProxy),
        inService: true,
        outUntil: 0,
        probing: false,
      });
      this.metrics.retain(this.metrics.label(client.proxy));
      this.metrics.inService.inc({ proxy: this.metrics.label(client.proxy) });
      this.metrics.outOfService.inc({ proxy: this.metrics.label(client.proxy) }, 0);
      this.metrics.openShells.inc({ proxy: this.metrics.label(client.proxy) }, 0);
    }
    this.order = rendezvousOrder(this.affinityKey, [...this.proxies.keys()]);
    this.timer = setInterval(() => void this.probe(), probeIntervalMs);
    this.timer.unref();
  }

  /** A command's lines: on the caller's logger when it gives one (a run's), else the pool's. */
  private logFor(options: { logger?: Logger }): Logger {
    return options.logger ? options.logger.child({ component: 'powershell-proxy-pool' }) : this.log;
  }

  /** Runs a generated PowerShell script (bootstrap + script on stdin) on this worker's proxy. */
  execute(script: string, options: ExecuteOptions = {}): Execution {
    const { command, args } = bootstrapCommand();
    return this.run(command, args, { ...options, stdin: script });
  }

  /** Runs any command on this worker's proxy, failing over while no output has been read. */
  run(command: string, args: readonly string[], options: RunOptions = {}): Execution {
    return new Execution(() => this.stream(command, args, options));
  }

  private async *stream(
    command: string,
    args: readonly string[],
    options: RunOptions,
  ): AsyncGenerator<OutputChunk, ExecutionResult, undefined> {
    const deadlineAt = options.deadlineMs === undefined ? undefined : Date.now() + options.deadlineMs;
    const log = this.logFor(options);
    // Said with the first command (in the run that made the pool), not at construction: on the run's logger.
    if (!this.orderLogged) {
      this.orderLogged = true;
      log.info({ order: this.order }, 'PowerShell proxy order for this worker');
    }
    const tried = new Set<string>();
    let lastError: unknown;
    for (;;) {
      const proxy = this.order.map((k) => this.proxies.get(k)!).find((p) => p.inService && !tried.has(p.key));
      if (!proxy) throw this.unavailable(lastError);
      tried.add(proxy.key);
      const labels = { proxy: this.metrics.label(proxy.key) };
      const stopWait = this.metrics.slotWait.startTimer(labels);
      const release = await proxy.slots.acquire(options.signal).finally(() => stopWait());
      this.metrics.openShells.inc(labels);
      const stopTimer = this.metrics.duration.startTimer(labels);
      this.metrics.commands.inc(labels);
      const remaining = deadlineAt === undefined ? undefined : Math.max(1, deadlineAt - Date.now());
      const inner = proxy.client.stream(command, args, { ...options, deadlineMs: remaining });
      let yielded = false;
      let finished = false;
      try {
        for (;;) {
          const step = await inner.next();
          if (step.done) {
            finished = true;
            stopTimer();
            return step.value;
          }
          yielded = true;
          yield step.value;
        }
      } catch (error) {
        finished = true;
        const code = error instanceof SyncError ? error.code : 'UNKNOWN';
        this.metrics.failures.inc({ ...labels, code });
        if (!PROXY_FAULTS.has(code) && code !== 'WINRM_QUOTA') throw error;
        if (PROXY_FAULTS.has(code)) this.takeOutOfService(proxy, error, log);
        // A stream already read cannot be replayed: the caller reruns the step (the error is retryable).
        if (yielded) throw error;
        lastError = error;
      } finally {
        if (!finished)
          await inner
            .return(undefined as never)
            .catch(
              ignoreBecause(
                'the command stops anyway; its own failure or its stop is what the caller hears',
                log,
              ),
            );
        release();
        this.metrics.openShells.dec(labels);
      }
    }
  }

  /** Probes every out-of-service proxy whose cool-down is over; runs on a timer, callable at will. */
  async probe(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.proxies.values()]
        .filter((p) => !p.inService && !p.probing && now >= p.outUntil)
        .map(async (p) => {
          p.probing = true;
          try {
            await p.client.identify(AbortSignal.timeout(this.options.networkDelayMs));
            p.inService = true;
            p.outUntil = 0;
            this.metrics.inService.inc({ proxy: this.metrics.label(p.key) });
            this.metrics.outOfService.dec({ proxy: this.metrics.label(p.key) });
            this.log.info({ proxy: p.key }, 'PowerShell proxy answers again; back in service');
          } catch (error) {
            p.outUntil = Date.now() + this.options.coolDownMs;
            this.log.debug(
              { proxy: p.key, code: error instanceof SyncError ? error.code : undefined },
              'PowerShell proxy still unavailable',
            );
          } finally {
            p.probing = false;
          }
        }),
    );
  }

  status(): ProxyStatus[] {
    return this.order.map((key) => {
      const p = this.proxies.get(key)!;
      return {
        proxy: key,
        inService: p.inService,
        openShells: p.slots.inUse,
        peakShells: p.slots.peak,
        waiting: p.slots.waiting,
        outOfServiceUntil: p.inService ? 0 : p.outUntil,
      };
    });
  }

  /** Deletes every shell still open on any proxy (the shutdown hook); returns how many. */
  async deleteOpenShells(): Promise<number> {
    const counts = await Promise.all([...this.proxies.values()].map((p) => p.client.deleteOpenShells()));
    return counts.reduce((n, c) => n + c, 0);
  }

  /** Ids of the shells open now, per proxy. */
  openShells(): { proxy: string; shellId: string }[] {
    return [...this.proxies.values()].flatMap((p) =>
      p.client.openShellIds().map((shellId) => ({ proxy: p.key, shellId })),
    );
  }

  /** Stops the probes and closes the kept-alive connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const p of this.proxies.values()) {
      p.client.close();
      // Take this pool's share out of the gauges (a per-proxy series goes when no pool counts it).
      const labels = { proxy: this.metrics.label(p.key) };
      this.metrics[p.inService ? 'inService' : 'outOfService'].dec(labels);
      this.metrics.release(labels.proxy);
    }
  }

  private takeOutOfService(proxy: PoolProxy, error: unknown, log: Logger): void {
    proxy.outUntil = Date.now() + this.options.coolDownMs;
    if (!proxy.inService) return;
    proxy.inService = false;
    this.metrics.inService.dec({ proxy: this.metrics.label(proxy.key) });
    this.metrics.outOfService.inc({ proxy: this.metrics.label(proxy.key) });
    const next = this.order.find((k) => k !== proxy.key && this.proxies.get(k)!.inService);
    log.warn(
      {
        proxy: proxy.key,
        code: error instanceof SyncError ? error.code : undefined,
        err: error instanceof Error ? error.message : String(error),
        coolDownMs: this.options.coolDownMs,
        next,
      },
      'PowerShell proxy out of service; moving to the next proxy',
    );
  }

  private unavailable(lastError: unknown): WinRmError {
    const down = this.order.filter((k) => !this.proxies.get(k)!.inService);
    return new WinRmError(
      'PROXY_UNAVAILABLE',
      `no PowerShell proxy is available (${down.length} of ${this.order.length} out of service: ${down.join(', ') || 'none'}). ` +
        `Check that the WinRM service runs on them and that Microsoft Teams Powershell.hostName names them; ` +
        `the sync will retry.` +
        (lastError instanceof Error ? ` Last error: ${lastError.message}` : ''),
      { proxy: this.order.join(','), retryable: true, cause: lastError },
    );
  }
}

/** The pool for one tenant: its proxies, account and password from the `Microsoft Teams Powershell` group. */
export function proxyPoolForTenant(
  tenant: Pick<TenantConfig, 'Microsoft Teams Powershell'>,
  options: Omit<ProxyPoolInput, 'hosts' | 'username' | 'password'> = {},
  deps: ProxyPoolDeps = {},
): ProxyPool {
  const group = tenant['Microsoft Teams Powershell'];
  const hosts: PowerShellHost[] = parsePowerShellHosts(group.hostName);
  return new ProxyPool(
    { ...options, hosts, username: group.proxyUsername, password: group.proxyPassword },
    deps,
  );
}
