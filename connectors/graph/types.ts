/**
 * The types the stages of the Graph pipeline share (request, retry, classify, pager) and the
 * connector exports.
 */
import type { GraphKind } from './kinds.js';

export type GraphItem = Record<string, unknown>;

export interface GraphRetryOptions {
  /**
   * Tries per request, the first included.
   * @default GRAPH_DEFAULTS.retry.maxAttempts (8)
   */
  maxAttempts?: number;
  /**
   * First backoff step when the server gives no Retry-After.
   * @default GRAPH_DEFAULTS.retry.baseDelayMs (1000 ms)
   */
  baseDelayMs?: number;
  /**
   * Largest backoff step.
   * @default GRAPH_DEFAULTS.retry.maxDelayMs (60 s)
   */
  maxDelayMs?: number;
  /**
   * A Retry-After longer than this fails the request instead of parking the worker.
   * @default GRAPH_DEFAULTS.retry.maxRetryAfterMs (10 minutes)
   */
  maxRetryAfterMs?: number;
}

export interface PagesOptions {
  signal?: AbortSignal;
  /**
   * Graph said the page token expired and the collection starts again from its first page: pages
   * already handed on come again (upserts are idempotent, so a caller usually needs do nothing).
   */
  onRestart?: (info: { kind: GraphKind; restart: number; pagesBefore: number }) => void;
}

export interface GraphConnectorStats {
  /** Pages parsed and not yet released by the caller (held or fetched ahead). */
  livePages: number;
  maxLivePages: number;
  pagesFetched: number;
  requests: number;
}
