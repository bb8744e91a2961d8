import { readFileSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { metricsOn } from './metric-factory.js';

/**
 * One registry per process. Metric definitions live beside the code they measure and register here.
 * Labels are bounded: no tenant names or ids, except the opt-out per-tenant staleness gauge
 * (workers/cluster-metrics.ts); per-tenant detail is in `sync_runs` and the logs.
 *
 * Every series carries `m365sync_process` (api, worker, scheduler, cli), set by the command that
 * starts the process. (Not `service`: Kubernetes' service discovery sets that target label, and
 * Prometheus would rename ours to `exported_service`.)
 */
export const registry = new Registry();
registry.setDefaultLabels({ m365sync_process: 'cli' });
collectDefaultMetrics({ register: registry });

/** package.json is one level up from the source tree (tsx), two from dist/ (the image). */
const version =
  ['../package.json', '../../package.json']
    .map((path) => {
      try {
        return JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
          name?: string;
          version?: string;
        };
      } catch {
        return {};
      }
    })
    .find((pkg) => pkg.name === 'm365sync')?.version ?? 'unknown';

/** The version in package.json (what `m365sync --version` prints, and `m365sync_build_info`). */
export const M365SYNC_VERSION = version;

metricsOn(registry)
  .gauge({
    name: 'm365sync_build_info',
    help: 'Always 1; the labels say which m365sync and Node.js version this process runs',
    labelNames: ['version', 'node_version'] as const,
  })
  .set({ version, node_version: process.versions.node }, 1);

/** Names this process in every series (`m365sync_process`); called by the command that starts it. */
export function setProcessLabel(name: 'api' | 'worker' | 'scheduler' | 'cli'): void {
  registry.setDefaultLabels({ m365sync_process: name });
}
