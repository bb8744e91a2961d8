/**
 * /metrics and /health for a process without the API (a worker, the scheduler): Prometheus scrapes
 * each one. A port already in use is a clear configuration error, not a crash with EADDRINUSE.
 * /health says whether the process runs and whether each dependency (MongoDB, Redis) answers, each
 * asked anew at every probe within a bound (a probe never hangs, and no failure is remembered): for
 * readiness and dashboards. /livez says only whether the process runs: for liveness, which must not
 * restart a process because MongoDB or Redis is away.
 */
import { createServer, type Server } from 'node:http';
import { SyncError } from '../domain/errors.js';
import type { Settings } from '../domain/settings.js';
import { registry } from './metrics.js';

export interface MetricsSettings {
  /** 0: serve no metrics. */
  port: number;
  host: string;
}

/** M365SYNC_METRICS_PORT (the process's own default when unset) and M365SYNC_METRICS_HOST. */
export function metricsSettings(
  settings: Pick<Settings, 'M365SYNC_METRICS_PORT' | 'M365SYNC_METRICS_HOST'>,
  defaultPort: number,
): MetricsSettings {
  return {
    port: settings.M365SYNC_METRICS_PORT ?? defaultPort,
    // Loopback by default (also when empty): /metrics is unauthenticated and describes the whole fleet.
    host: settings.M365SYNC_METRICS_HOST || '127.0.0.1',
  };
}

export interface MetricsServerOptions extends MetricsSettings {
  /** /health answers 200 while this says so, 503 otherwise. */
  healthy: () => boolean;
  /** Text appended to the registry's (e.g. BullMQ's queue metrics); '' for none. */
  extra?: () => Promise<string>;
  /** Dependencies /health asks at each probe: name (`mongodb`, `redis`) → rejects when unreachable. */
  checks?: Record<string, () => Promise<unknown>>;
  /** How long /health waits for each check (default HEALTH_CHECK_TIMEOUT_MS). */
  checkTimeoutMs?: number;
}

/** Below the compose healthcheck's own 5 s timeout, so the probe gets an answer naming what failed. */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/** Each check's result: `ok`, or why not (no address, no server message: /health is unauthenticated). */
async function runChecks(
  checks: Record<string, () => Promise<unknown>>,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const results: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`unreachable (no answer within ${timeoutMs} ms)`), timeoutMs);
      });
      results[name] = await Promise.race([
        Promise.resolve()
          .then(check)
          .then(
            () => 'ok',
            (error: unknown) => {
              const code = (error as { code?: unknown } | undefined)?.code;
              return typeof code === 'string' && /^E[A-Z]+$/.test(code)
                ? `unreachable (${code})`
                : 'unreachable';
            },
          ),
        timedOut,
      ]).finally(() => clearTimeout(timer));
    }),
  );
  return results;
}

/** Listens, or rejects with a CONFIGURATION error naming the port and what to do. */
export async function serveMetrics(options: MetricsServerOptions): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      Promise.all([registry.metrics(), options.extra?.() ?? ''])
        .then(([own, extra]) => {
          const text = extra ? `${own.trimEnd()}\n${extra.trimEnd()}\n` : own;
          response.writeHead(200, { 'content-type': registry.contentType }).end(text);
        })
        .catch((error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}`);
        });
    } else if (request.url === '/livez') {
      // Liveness: the process runs. A restart does not bring MongoDB or Redis back, so their outage
      // must not restart it (the engine recovers by itself once they answer).
      const ok = options.healthy();
      response
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
    } else if (request.url === '/health') {
      void runChecks(options.checks ?? {}, options.checkTimeoutMs ?? HEALTH_CHECK_TIMEOUT_MS).then(
        (checks) => {
          const ok = options.healthy() && Object.values(checks).every((c) => c === 'ok');
          response
            .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', checks }));
        },
      );
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE')
        reject(
          new SyncError(
            'CONFIGURATION',
            `Metrics port ${options.port} on ${options.host} is already in use (another worker or scheduler on this machine?): give this process its own M365SYNC_METRICS_PORT, or 0 to serve no metrics.`,
          ),
        );
      else
        reject(
          new SyncError(
            'CONFIGURATION',
            `Cannot serve metrics on ${options.host}:${options.port} (${error.code ?? error.message}): check M365SYNC_METRICS_HOST and M365SYNC_METRICS_PORT.`,
          ),
        );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
