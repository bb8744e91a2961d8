import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { registry } from '../../observability/metrics.js';

/**
 * Per-proxy metrics of the PowerShell proxy pool. The label is the proxy's `host:port`, which is
 * bounded configuration; never a tenant.
 */
export interface ProxyMetrics {
  commands: Counter<'proxy'>;
  failures: Counter<'proxy' | 'code'>;
  duration: Histogram<'proxy'>;
  inService: Gauge<'proxy'>;
  openShells: Gauge<'proxy'>;
}

function single<T>(r: Registry, name: string, make: () => T): T {
  return (r.getSingleMetric(name) as T | undefined) ?? make();
}

export function proxyMetrics(r: Registry = registry): ProxyMetrics {
  return {
    commands: single(
      r,
      'm365sync_powershell_proxy_commands_total',
      () =>
        new Counter({
          name: 'm365sync_powershell_proxy_commands_total',
          help: 'Commands run on each PowerShell proxy (successful or not)',
          labelNames: ['proxy'],
          registers: [r],
        }),
    ),
    failures: single(
      r,
      'm365sync_powershell_proxy_failures_total',
      () =>
        new Counter({
          name: 'm365sync_powershell_proxy_failures_total',
          help: 'Commands that failed on each PowerShell proxy, by error code',
          labelNames: ['proxy', 'code'],
          registers: [r],
        }),
    ),
    duration: single(
      r,
      'm365sync_powershell_proxy_command_duration_seconds',
      () =>
        new Histogram({
          name: 'm365sync_powershell_proxy_command_duration_seconds',
          help: 'Time from shell creation to the end of a command on each PowerShell proxy',
          labelNames: ['proxy'],
          buckets: [0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 180, 600, 1800, 3600],
          registers: [r],
        }),
    ),
    inService: single(
      r,
      'm365sync_powershell_proxy_in_service',
      () =>
        new Gauge({
          name: 'm365sync_powershell_proxy_in_service',
          help: '1 while a PowerShell proxy is in service, 0 during its cool-down after a failure',
          labelNames: ['proxy'],
          registers: [r],
        }),
    ),
    openShells: single(
      r,
      'm365sync_powershell_proxy_open_shells',
      () =>
        new Gauge({
          name: 'm365sync_powershell_proxy_open_shells',
          help: 'Shells this process holds open on each PowerShell proxy',
          labelNames: ['proxy'],
          registers: [r],
        }),
    ),
  };
}
