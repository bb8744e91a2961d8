/**
 * The retry stage of the Graph pipeline: a GET as one or more exchanges of the request stage, run by
 * the one retry layer (connectors/retry.ts, p-retry) and judged by the classify stage. A 2xx JSON
 * body is the answer; a 401 renews the token once (a free retry); 429, 503 and 504 wait Retry-After
 * or back off; network failures back off; everything else fails at once with its classified error.
 */
import type { Logger } from 'pino';
import { SyncError } from '../../domain/errors.js';
import { withRetries } from '../retry.js';
import { Busy, finalError, graphErrorCode, retryDecision, TokenRenewed, Unreachable } from './classify.js';
import type { TokenSource } from './credential.js';
import { graphRetryWait, graphThrottled } from './metrics.js';
import type { SendRequest } from './request.js';

export type GetJson = (
  url: string,
  endpoint: string,
  signal: AbortSignal,
  extraHeaders?: Record<string, string>,
) => Promise<unknown>;

export interface RetryStageOptions {
  send: SendRequest;
  tokens: Pick<TokenSource, 'get' | 'renew'>;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; maxRetryAfterMs: number };
  /** A status that is not retried, as the SyncError to throw (classify.ts). */
  classify: (status: number, code: string | undefined, endpoint: string) => SyncError;
  /** Masks the tenant's secrets in a network error's text. */
  scrub: (text: string) => string;
  graphOrigin: string;
  proxyUrl: string | undefined;
  log: Logger;
}

export function createGetJson(options: RetryStageOptions): GetJson {
  const { send, tokens, retry, log } = options;
  return async function getJson(url, endpoint, signal, extraHeaders) {
    let renewed = false;
    try {
      return await withRetries(
        async (attempt) => {
          const token = await tokens.get(signal);
          let res: Awaited<ReturnType<SendRequest>>;
          try {
            res = await send(url, token, endpoint, signal, extraHeaders);
          } catch (error) {
            if (signal.aborted || error instanceof SyncError) throw error; // cancelled, or a body over the cap
            throw new Unreachable(
              options.scrub((error as { code?: string }).code ?? (error as Error).message),
              attempt,
            );
          }
          const { status, headers, body, json } = res;
          if (status >= 200 && status < 300) {
            if (!json || body === undefined) {
              throw new SyncError(
                'GRAPH_REQUEST',
                `Graph ${endpoint} answered ${status} without a JSON body; is graph_base_url a Graph endpoint?`,
              );
            }
            return body;
          }
          if (status === 401 && !renewed) {
            // Expired or revoked token: renew once and try again (not counted as an attempt).
            renewed = true;
            log.info({ endpoint }, 'Graph rejected the access token, renewing it');
            await tokens.renew(token, signal);
            throw new TokenRenewed();
          }
          if (status === 429 || status === 503 || status === 504) {
            graphThrottled.inc({ endpoint, status: String(status) });
            throw new Busy(status, headers['retry-after'], attempt);
          }
          throw options.classify(status, graphErrorCode(body), endpoint);
        },
        {
          attempts: retry.maxAttempts,
          baseDelayMs: retry.baseDelayMs,
          maxDelayMs: retry.maxDelayMs,
          signal,
          classify: (error) => retryDecision(error, retry.maxRetryAfterMs),
          onRetry: ({ error, attempt, waitMs }) => {
            if (error instanceof Busy)
              log.warn(
                { endpoint, status: error.status, attempt, waitMs, retryAfter: error.retryAfter },
                'Graph asked us to slow down',
              );
            else
              log.warn(
                { endpoint, attempt, error: (error as Error).message },
                'Graph request failed, retrying',
              );
          },
          onWaited: ({ reason, waitedMs }) =>
            graphRetryWait.observe(
              { endpoint, reason: reason === 'server' ? 'retry_after' : 'backoff' },
              waitedMs / 1000,
            ),
        },
      );
    } catch (error) {
      if (signal.aborted) {
        throw new SyncError('CANCELLED', `Graph ${endpoint} read cancelled.`, { cause: signal.reason });
      }
      throw finalError(error, endpoint, options);
    }
  };
}
