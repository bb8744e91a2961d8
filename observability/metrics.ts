import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per process. Metric definitions live beside the code they measure and register here.
 * No tenant names or ids as labels (unbounded cardinality); per-tenant detail is in `sync_runs` and logs.
 */
export const registry = new Registry();
registry.setDefaultLabels({ service: process.env.M365SYNC_SERVICE ?? 'm365sync' });
collectDefaultMetrics({ register: registry });
