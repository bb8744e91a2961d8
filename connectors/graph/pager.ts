/**
 * The pager stage of the Graph pipeline: a collection as an async iterator of pages. It follows
 * `@odata.nextLink` as given (never to another host: a bearer token stays on the Graph host), checks
 * each page is a Graph collection, fetches one page ahead while the caller works on the current one
 * (at most two pages live per pull), and restarts the collection from its first page when the page
 * token expired (at most `maxRestarts` times).
 */
import type { Logger } from 'pino';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import type { TenantConfig } from '../../domain/tenant.js';
import type { GetJson } from './get-json.js';
import { collectionRequest, type GraphKind } from './kinds.js';
import { graphPageTokenRestarts } from './metrics.js';
import { stripODataAnnotations } from './odata.js';
import type { GraphConnectorStats, GraphItem, PagesOptions } from './types.js';

interface Page {
  items: GraphItem[];
  nextLink: string | undefined;
}

export interface PagerOptions {
  tenant: TenantConfig;
  getJson: GetJson;
  /** `<graph base>/v1.0`, where collections are read. */
  graphRoot: string;
  graphOrigin: string;
  stats: GraphConnectorStats;
  prefetch: boolean;
  maxRestarts: number;
  /** Aborted when the connector closes. */
  closing: AbortSignal;
  log: Logger;
}

export function isGraphCollection(
  body: { value?: unknown; '@odata.context'?: unknown } | undefined,
): body is { value: GraphItem[]; '@odata.context': string; '@odata.nextLink'?: unknown } {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof body['@odata.context'] === 'string' &&
    Array.isArray(body.value) &&
    body.value.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))
  );
}

export function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

export function createPager(
  pager: PagerOptions,
): (kind: GraphKind, options?: PagesOptions) => AsyncGenerator<GraphItem[]> {
  const { tenant, getJson, graphRoot, graphOrigin, stats, prefetch, maxRestarts, log } = pager;

  async function fetchPage(
    url: string,
    endpoint: string,
    signal: AbortSignal,
    extraHeaders?: Record<string, string>,
  ): Promise<Page> {
    if (new URL(url).origin !== graphOrigin) {
      // A bearer token never leaves the configured Graph host.
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} returned a next link to another host; refusing to follow it.`,
      );
    }
    const body = (await getJson(url, endpoint, signal, extraHeaders)) as
      { value?: unknown; '@odata.context'?: unknown; '@odata.nextLink'?: unknown } | undefined;
    // The envelope is checked by hand, not with zod: it is parsed once per page on the hot path.
    // Graph's collections always carry @odata.context and a "value" array of objects; anything else is
    // not stored as imported objects, whatever host answered.
    if (!isGraphCollection(body)) {
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} answered with something that is not a Graph collection (no @odata.context, or no "value" array of objects); is graph_base_url a Graph endpoint?`,
      );
    }
    const next = body['@odata.nextLink'];
    if (next !== undefined && typeof next !== 'string') {
      throw new SyncError('GRAPH_REQUEST', `Graph ${endpoint} answered with a next link that is not text.`);
    }
    const items = body.value as GraphItem[];
    for (const item of items) stripODataAnnotations(item);
    stats.pagesFetched++;
    stats.livePages++;
    stats.maxLivePages = Math.max(stats.maxLivePages, stats.livePages);
    return { items, nextLink: next };
  }

  function release() {
    stats.livePages--;
  }

  return async function* pages(
    kind: GraphKind,
    pagesOptions: PagesOptions = {},
  ): AsyncGenerator<GraphItem[]> {
    const spec = collectionRequest(kind, tenant);
    const firstUrl = `${graphRoot}${spec.pathAndQuery}`;
    const controller = new AbortController();
    const signal = anySignal([pagesOptions.signal, pager.closing, controller.signal]);
    let pending: Promise<Page> | undefined;
    let restarts = 0;
    let handedOn = 0;
    try {
      pending = fetchPage(firstUrl, spec.endpoint, signal, spec.headers);
      let emptyInARow = 0;
      while (pending) {
        let page: Page;
        try {
          page = await pending;
        } catch (error) {
          pending = undefined;
          if (error instanceof SyncError && error.code === 'PAGE_TOKEN_EXPIRED' && restarts < maxRestarts) {
            restarts++;
            graphPageTokenRestarts.inc({ endpoint: spec.endpoint });
            log.warn(
              { endpoint: spec.endpoint, restart: restarts, pagesBefore: handedOn },
              'Graph page token expired, restarting the collection',
            );
            pagesOptions.onRestart?.({ kind, restart: restarts, pagesBefore: handedOn });
            pending = fetchPage(firstUrl, spec.endpoint, signal, spec.headers);
            continue;
          }
          throw error;
        }
        emptyInARow = page.items.length === 0 ? emptyInARow + 1 : 0;
        if (emptyInARow > 1000) {
          release();
          throw new SyncError(
            'GRAPH_REQUEST',
            `Graph ${spec.endpoint} sent 1000 empty pages in a row; giving up on this collection.`,
          );
        }
        const next = page.nextLink;
        // Fetch one page ahead while the caller works on this one: at most two pages live per pull.
        pending = next && prefetch ? fetchPage(next, spec.endpoint, signal, spec.headers) : undefined;
        pending?.catch(ignoreBecause('heard where it is awaited; never an unhandled rejection meanwhile'));
        const items = page.items;
        (page as Partial<Page>).items = undefined;
        try {
          handedOn++;
          yield items;
        } finally {
          release();
        }
        if (!pending && next) pending = fetchPage(next, spec.endpoint, signal, spec.headers);
      }
    } finally {
      // The caller stopped early, failed, or finished: cancel and release what was fetched ahead.
      controller.abort();
      if (pending) {
        await pending.then(
          () => release(),
          () => {},
        );
      }
    }
  };
}
