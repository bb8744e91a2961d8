/**
 * The request stage of the Graph pipeline: one HTTP exchange on the tenant's undici dispatcher (its
 * outbound proxy and CA), through the per-tenant limiter, counted in the metrics, its body read up to
 * the byte cap and within the overall deadline. It never retries and never judges a status: the
 * retry stage (get-json.ts) and classify.ts do.
 */
import { request, type Dispatcher } from 'undici';
import type { GraphLimiter } from './limiter.js';
import { graphRequestDuration, graphRequests } from './metrics.js';
import { readBodyLimited, withDeadline } from './transport.js';
import type { GraphConnectorStats } from './types.js';

export interface GraphResponse {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  /** The parsed body when it was JSON (undefined when empty or broken: judged by its status). */
  body: unknown;
  json: boolean;
}

export type SendRequest = (
  url: string,
  token: string,
  endpoint: string,
  signal: AbortSignal,
  extraHeaders?: Record<string, string>,
) => Promise<GraphResponse>;

export interface RequestStageOptions {
  dispatcher: Dispatcher;
  limiter: GraphLimiter;
  stats: GraphConnectorStats;
  /** Per-request time limit for headers and for each body chunk. */
  requestTimeoutMs: number;
  /** Overall time for one request, headers and whole body. */
  requestDeadlineMs: number;
  maxResponseBytes: number;
}

/** A JSON media type (`application/json`, with Graph's OData parameters, or `…+json`). */
function isJson(contentType: string | string[] | undefined): boolean {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType)
    ?.split(';')[0]
    ?.trim()
    .toLowerCase();
  return type === 'application/json' || (type?.startsWith('application/') === true && type.endsWith('+json'));
}

export function createSend(options: RequestStageOptions): SendRequest {
  const { dispatcher, limiter, stats, requestTimeoutMs, requestDeadlineMs, maxResponseBytes } = options;
  return function send(url, token, endpoint, signal, extraHeaders) {
    return limiter.schedule(async () => {
      signal.throwIfAborted();
      stats.requests++;
      const started = performance.now();
      const limit = withDeadline(signal, requestDeadlineMs);
      let counted = false;
      try {
        const res = await request(url, {
          method: 'GET',
          headers: { ...extraHeaders, authorization: `Bearer ${token}`, accept: 'application/json' },
          dispatcher,
          signal: limit.signal,
          headersTimeout: requestTimeoutMs,
          bodyTimeout: requestTimeoutMs,
        });
        graphRequests.inc({ endpoint, status: String(res.statusCode) });
        counted = true;
        const raw = await readBodyLimited(
          res,
          maxResponseBytes,
          `Graph ${endpoint}`,
          "Lower the tenant's page size, or raise GRAPH_MAX_RESPONSE_BYTES if its pages really are that large.",
        );
        const json = isJson(res.headers['content-type']);
        let body: unknown;
        if (json) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            body = undefined; // an empty or broken body: judged by its status below
          }
        }
        graphRequestDuration.observe({ endpoint }, (performance.now() - started) / 1000);
        return { status: res.statusCode, headers: res.headers, body, json };
      } catch (caught) {
        const error = limit.fail(caught);
        if (!counted) graphRequests.inc({ endpoint, status: signal.aborted ? 'cancelled' : 'network_error' });
        throw error;
      }
    }, signal);
  };
}
