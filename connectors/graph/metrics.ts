/**
 * Graph connector metrics on the process registry. Labels are bounded: a normalised endpoint
 * (`/users`, `/token`, …), a status and a reason; never a tenant, a URL or a user.
 */
import { registry } from '../../observability/metrics.js';
import { metricsOn } from '../../observability/metric-factory.js';

const metric = metricsOn(registry);

export const graphRequests = metric.counter({
  name: 'm365sync_graph_requests_total',
  help: 'HTTP requests to Graph and its sign-in endpoints, by endpoint and status (network_error when no response came)',
  labelNames: ['endpoint', 'status'] as const,
});

export const graphRequestDuration = metric.histogram({
  name: 'm365sync_graph_request_duration_seconds',
  help: 'Time from sending a Graph request to its whole body read, by endpoint',
  labelNames: ['endpoint'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
});

export const graphLimiterWait = metric.histogram({
  name: 'm365sync_graph_limiter_wait_seconds',
  help: "Time a Graph request waited in our limiters before it was sent, by limit (tenant: the tenant's concurrency and rate; app: the application's budget across tenants)",
  labelNames: ['limit'] as const,
  buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 20, 60, 300],
});
// Both series from the start, so dashboards and rate() see the first wait.
for (const limit of ['tenant', 'app']) graphLimiterWait.zero({ limit });

export const graphThrottled = metric.counter({
  name: 'm365sync_graph_throttled_total',
  help: 'Graph responses asking us to slow down (429, 503, 504), by endpoint and status',
  labelNames: ['endpoint', 'status'] as const,
});

export const graphRetryWait = metric.histogram({
  name: 'm365sync_graph_retry_wait_seconds',
  help: 'Waits before retrying a Graph request, by endpoint and reason (retry_after: the server said; backoff: we chose)',
  labelNames: ['endpoint', 'reason'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
});

export const graphPageTokenRestarts = metric.counter({
  name: 'm365sync_graph_page_token_restarts_total',
  help: 'Collections restarted from the first page because Graph said the page token expired',
  labelNames: ['endpoint'] as const,
});

export const graphTokenRenewals = metric.counter({
  name: 'm365sync_graph_token_requests_total',
  help: 'Access tokens obtained, by reason (initial, expiring, rejected: Graph answered 401)',
  labelNames: ['reason'] as const,
});
// Each reason at zero from the start (a first `rejected` is then an increase alerts and rate() see).
for (const reason of ['initial', 'expiring', 'rejected']) graphTokenRenewals.inc({ reason }, 0);
