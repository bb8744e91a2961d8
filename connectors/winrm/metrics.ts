import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registry } from '../../observability/metrics.js';
import { metricsOn } from '../../observability/metric-factory.js';
import { ERROR_CODES } from '../../domain/errors.js';

/**
 * Metrics of the PowerShell proxy pools. The `proxy` label is `all` by default: proxies are tenant
 * configuration, so a label per `host:port` grows with the fleet. `perProxy` (M365SYNC_METRICS_PROXY_LABEL=true)
 * labels each proxy instead (for a fleet with a few shared proxies). Gauges move by deltas and a pool
 * takes its share back when it closes, so a closed pool leaves no stale series behind.
 */
export interface ProxyMetrics {
  /** The label value for a proxy: its `host:port`, or `all`. */
  label(proxy: string): string;
  commands: Counter<'proxy'>;
  failures: Counter<'proxy' | 'code'>;
  duration: Histogram<'proxy'>;
  /** Seconds a command waited for a shell slot on its proxy (the fleet-wide limit, or this process's). */
  slotWait: Histogram<'proxy'>;
  inService: Gauge<'proxy'>;
  outOfService: Gauge<'proxy'>;
  openShells: Gauge<'proxy'>;
  /** A pool counts a proxy label in the gauges… */
  retain(label: string): void;
  /** …and gives it back at close: a label no open pool counts is removed from the gauges. */
  release(label: string): void;
}

/** Open pools per registry and label. */
const holders = new WeakMap<Registry, Map<string, number>>();

export function proxyMetrics(r: Registry = registry, options: { perProxy?: boolean } = {}): ProxyMetrics {
  const metric = metricsOn(r);
  const gauge = (name: string, help: string) => metric.gauge({ name, help, labelNames: ['proxy'] });
  const held = holders.get(r) ?? new Map<string, number>();
  holders.set(r, held);
  const metrics: ProxyMetrics = {
    label: (proxy) => (options.perProxy ? proxy : 'all'),
    retain: (label) => void held.set(label, (held.get(label) ?? 0) + 1),
    release: (label) => {
      const left = (held.get(label) ?? 1) - 1;
      if (left > 0) return void held.set(label, left);
      held.delete(label);
      for (const g of [metrics.inService, metrics.outOfService, metrics.openShells])
        g.remove({ proxy: label });
    },
    commands: metric.counter({
      name: 'm365sync_powershell_proxy_commands_total',
      help: 'Commands run on PowerShell proxies (successful or not)',
      labelNames: ['proxy'],
    }),
    failures: metric.counter({
      name: 'm365sync_powershell_proxy_failures_total',
      help: 'Commands that failed on PowerShell proxies, by error code',
      labelNames: ['proxy', 'code'],
    }),
    duration: metric.histogram({
      name: 'm365sync_powershell_proxy_command_duration_seconds',
      help: 'Time from shell creation to the end of a command on PowerShell proxies',
      labelNames: ['proxy'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 180, 600, 1800, 3600],
    }),
    slotWait: metric.histogram({
      name: 'm365sync_powershell_proxy_slot_wait_seconds',
      help: 'Time a command waited for a free shell slot on its PowerShell proxy (M365SYNC_WINRM_MAX_SHELLS_PER_PROXY)',
      labelNames: ['proxy'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    }),
    inService: gauge(
      'm365sync_powershell_proxy_in_service',
      'PowerShell proxies of open pools in service (per proxy: 1 or 0)',
    ),
    outOfService: gauge(
      'm365sync_powershell_proxy_out_of_service',
      'PowerShell proxies of open pools in their cool-down after a failure (per proxy: 1 or 0)',
    ),
    openShells: gauge(
      'm365sync_powershell_proxy_open_shells',
      'Shells this process holds open on PowerShell proxies',
    ),
  };
  if (!options.perProxy) {
    // The one `all` label is known at start: its series exist at zero, so the first failure of a
    // process is an increase that rate() and the proxy alerts see. (Per-proxy labels are tenant
    // configuration, learnt only when a pool opens.)
    metrics.commands.inc({ proxy: 'all' }, 0);
    for (const code of [...ERROR_CODES, 'UNKNOWN']) metrics.failures.inc({ proxy: 'all', code }, 0);
  }
  return metrics;
}
