/**
 * Delta rounds of users and groups (Graph "Use delta query to track changes in Microsoft Graph data",
 * "user: delta", "group: delta"). A round starts from a saved deltaLink, follows `@odata.nextLink`
 * pages and ends with a new `@odata.deltaLink`; a round without a link lists everything. `$select` is
 * fixed into the link, `$top` is not supported (the server's page size governs delta), and updated
 * objects are partial: with `Prefer: return=minimal` only the changed properties come, a cleared one
 * as null. A removed object is `{ id, "@removed": { reason } }`.
 *
 * A link is a bearer of tenant data: it is never logged, and it is followed only on the Graph host the
 * tenant's connection names (as next links are).
 */
import { SyncError } from '../../domain/errors.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import type { GetJson } from './get-json.js';
import { GROUP_SELECT, USER_SELECT } from './kinds.js';
import { stripODataAnnotations } from './odata.js';
import { isGraphCollection } from './pager.js';
import type { GraphConnectorStats, GraphItem } from './types.js';

export const DELTA_KINDS = ['users', 'groups'] as const;
export type DeltaKind = (typeof DELTA_KINDS)[number];

/** The `$select` each kind's rounds are made with: the full pull's, so a merged object equals a listed one. */
export const DELTA_SELECT: Record<DeltaKind, string> = {
  users: USER_SELECT.join(','),
  groups: GROUP_SELECT.join(','),
};

/** One page of a round: objects created or updated (partial), and objects removed. */
export interface DeltaPage {
  changed: GraphItem[];
  removed: { id: string; reason: 'changed' | 'deleted' }[];
}

export interface DeltaRound {
  pages: AsyncIterable<DeltaPage>;
  /** The round's deltaLink, once its last page was read (undefined before). */
  readonly deltaLink: string | undefined;
}

export interface DeltaReader {
  /** A round from `link` (a saved deltaLink), or a first round listing everything without one. */
  round(kind: DeltaKind, options: { link?: string; signal: AbortSignal }): DeltaRound;
  /** A deltaLink from now, with no data (`$deltatoken=latest`): where the next round starts. */
  latest(kind: DeltaKind, options: { signal: AbortSignal }): Promise<string>;
}

/** Graph sends empty pages with a next link; this many in a row is a server in a loop. */
const MAX_EMPTY_PAGES = 1000;

export function createDeltaReader(o: {
  getJson: GetJson;
  graphRoot: string;
  graphOrigin: string;
  stats: GraphConnectorStats;
  /** Fetch a round's next page while the caller applies this one (as the pager does; default on). */
  prefetch?: boolean;
}): DeltaReader {
  const prefetch = o.prefetch ?? true;
  const endpointOf = (kind: DeltaKind) => `/${kind}/delta`;
  const firstUrl = (kind: DeltaKind, extra = '') =>
    `${o.graphRoot}/${kind}/delta?$select=${DELTA_SELECT[kind]}${extra}`;

  async function fetchPage(url: string, endpoint: string, signal: AbortSignal) {
    if (new URL(url).origin !== o.graphOrigin) {
      // A bearer token (and the link's state) never leaves the configured Graph host.
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} gave a link to another host; refusing to follow it.`,
      );
    }
    const body = (await o.getJson(url, endpoint, signal, { Prefer: 'return=minimal' })) as
      Record<string, unknown> | undefined;
    if (!isGraphCollection(body)) {
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} answered with something that is not a Graph collection; is graph_base_url a Graph endpoint?`,
      );
    }
    const next = body['@odata.nextLink'];
    const delta = (body as Record<string, unknown>)['@odata.deltaLink'];
    if (
      (next !== undefined && typeof next !== 'string') ||
      (delta !== undefined && typeof delta !== 'string')
    )
      throw new SyncError('GRAPH_REQUEST', `Graph ${endpoint} answered with a link that is not text.`);
    if (next === undefined && delta === undefined)
      throw new SyncError(
        'GRAPH_REQUEST',
        `Graph ${endpoint} answered a delta page with neither a next link nor a delta link.`,
      );
    o.stats.pagesFetched++;
    return { items: body.value, next: next as string | undefined, delta: delta as string | undefined };
  }

  return {
    round(kind, { link, signal }) {
      const endpoint = endpointOf(kind);
      let deltaLink: string | undefined;
      async function* pages(): AsyncGenerator<DeltaPage> {
        let pending: ReturnType<typeof fetchPage> | undefined = fetchPage(
          link ?? firstUrl(kind),
          endpoint,
          signal,
        );
        let empty = 0;
        while (pending) {
          const page: Awaited<ReturnType<typeof fetchPage>> = await pending;
          // One page ahead while the caller applies this one: at most two pages live per round.
          pending = page.next && prefetch ? fetchPage(page.next, endpoint, signal) : undefined;
          pending?.catch(ignoreBecause('heard where it is awaited; never an unhandled rejection meanwhile'));
          empty = page.items.length === 0 ? empty + 1 : 0;
          if (empty > MAX_EMPTY_PAGES)
            throw new SyncError(
              'GRAPH_REQUEST',
              `Graph ${endpoint} sent ${MAX_EMPTY_PAGES} empty pages in a row; giving up on this round.`,
            );
          const out: DeltaPage = { changed: [], removed: [] };
          for (const item of page.items) {
            const removed = item['@removed'] as { reason?: unknown } | undefined;
            if (removed && typeof item.id === 'string') {
              out.removed.push({ id: item.id, reason: removed.reason === 'deleted' ? 'deleted' : 'changed' });
            } else out.changed.push(stripODataAnnotations(item));
          }
          if (out.changed.length > 0 || out.removed.length > 0) yield out;
          if (!pending && page.next) pending = fetchPage(page.next, endpoint, signal);
          if (!page.next) deltaLink = page.delta;
        }
      }
      return {
        pages: pages(),
        get deltaLink() {
          return deltaLink;
        },
      };
    },
    async latest(kind, { signal }) {
      const endpoint = endpointOf(kind);
      const page = await fetchPage(firstUrl(kind, '&$deltatoken=latest'), endpoint, signal);
      if (!page.delta)
        throw new SyncError(
          'GRAPH_REQUEST',
          `Graph ${endpoint} answered $deltatoken=latest without a delta link.`,
        );
      return page.delta;
    },
  };
}
