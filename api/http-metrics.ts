/**
 * HTTP request metrics of the API: requests by route template, method and status class, and their
 * duration by route and method. Labels are bounded: the route is Fastify's template (`/tenants/:ref`,
 * never the id), `unmatched` for a URL no route serves; the status is its class (`2xx`…`5xx`). Every
 * declared route's series start at zero (2xx, 4xx and 5xx), so `increase()` sees the first error of a
 * route in a process, as Prometheus' guidance on labelled counters asks.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { metricsOn } from '../observability/metric-factory.js';
import { registry as processRegistry } from '../observability/metrics.js';

const LABELS = ['method', 'route', 'status_class'] as const;
const PRE_CREATED_CLASSES = ['2xx', '4xx', '5xx'] as const;
/** The route label of a request that matched no route (404): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

export function statusClass(status: number): string {
  return `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
}

/** Installs the hooks on `app` (before any route is declared), on the process registry by default. */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry = processRegistry): void {
  // One set per registry (observability/metric-factory.ts): the API may be built more than once in a process (tests).
  const metric = metricsOn(registry);
  const requests = metric.counter({
    name: 'm365sync_api_requests_total',
    help: 'HTTP requests answered by the API, by method, route template and status class',
    labelNames: LABELS,
  });
  const duration = metric.histogram({
    name: 'm365sync_api_request_duration_seconds',
    help: 'Time from request to answer, by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });

  const zero = (method: string, route: string) => {
    duration.zero({ method, route });
    for (const status_class of PRE_CREATED_CLASSES) requests.inc({ method, route, status_class }, 0);
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== 'HEAD') zero(method, route.url);
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE };
    requests.inc({ ...labels, status_class: statusClass(reply.statusCode) });
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}
