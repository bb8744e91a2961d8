/**
 * `GET /users/delta` and `GET /groups/delta` as Microsoft Graph v1.0 documents them ("Use delta query
 * to track changes", "user: delta", "group: delta", "Get incremental changes for groups"):
 *
 * - a first round (no token, or an empty `$deltatoken=`) lists every object, then rounds from a
 *   `@odata.deltaLink` list what changed since; `@odata.nextLink` pages until the last page carries the
 *   deltaLink. `$select` and the `id eq` `$filter` are fixed into the token.
 * - the page size is the server's: `$top` is ignored (Graph's docs: not supported on directory delta;
 *   Microsoft's docs team: "silently ignored"). A page holds `pageSize` units, an object one unit and
 *   each member reference one more, so one group's members can span several pages (the group repeated
 *   with the next slice of `members@delta`).
 * - an updated object carries its selected properties (never-set ones absent), or with
 *   `Prefer: return=minimal` only the changed ones (a cleared one as null); a removed object is
 *   `{ id, "@removed": { reason } }`, `changed` when it went to the recycle bin, `deleted` when gone.
 * - quirks on demand: an object twice in one round, a change held back to the next round (late), a
 *   change sent again in the next round (replay).
 * - `$deltatoken=latest`: a deltaLink and no data. Tokens older than their lifetime, or dropped, are
 *   answered 400 `syncStateNotFound`; a resync switch answers 410 Gone with a Location to start over.
 *
 * Tokens are opaque: a random id naming state kept here (the round, its position, `$select`, when
 * issued), never the state itself.
 */
import { randomBytes } from 'node:crypto';
import { prng, type Dataset } from '../dataset.js';
import { COLLECTIONS, GROUP_PROPERTIES, type GraphObject } from './collections.js';
import { DeltaHistory, sameJson, type DeltaKind, type State } from './delta-history.js';

export interface DeltaOptions {
  /** Units per page: an object is one, each member reference one more (default 200). */
  pageSize?: number;
  /** How long a delta or page token is accepted (default 7 days, as Graph's directory tokens). */
  tokenLifetimeMs?: number;
  /** Chance (0–1) that an object of a round also appears a second time later in the same round. */
  duplicateChance?: number;
  /** Chance (0–1) that a change is held back from its round and comes in the next one instead. */
  lateChance?: number;
  /** Chance (0–1) that a change sent in a round is sent again in the next one. */
  replayChance?: number;
  /** Seeds the quirks above, so a run is the same every time (default 1). */
  seed?: number;
  /** The clock tokens age by (default Date.now); tests move it instead of waiting. */
  clock?: () => number;
}

type Resolved = Required<DeltaOptions>;

const DEFAULTS: Resolved = {
  pageSize: 200,
  tokenLifetimeMs: 7 * 24 * 3600 * 1000,
  duplicateChance: 0,
  lateChance: 0,
  replayChance: 0,
  seed: 1,
  clock: Date.now,
};

/** At most this many tokens are kept; the oldest are dropped (and then answered syncStateNotFound). */
const TOKEN_LIMIT = 200_000;
const ROUND_CACHE = 8;
const FILTER_LIMIT = 50;

/** What a round is built from: enough to build it again, the same, if it left the cache. */
interface RoundSpec {
  kind: DeltaKind;
  select: string[];
  /** The `$select` as the client gave it (for @odata.context and the 410 Location), if any. */
  selectText?: string;
  ids?: string[];
  filterText?: string;
  /** null: a first round. */
  from: number | null;
  to: number;
  /** Changes held back or replayed from the round before: [id, sequence to compare from]. */
  carry: [string, number][];
  roundNo: number;
}

type TokenState =
  | { type: 'page'; spec: RoundSpec; roundId: string; page: number; issuedAt: number; dead?: true }
  | {
      type: 'delta';
      spec: Omit<RoundSpec, 'from' | 'to' | 'roundNo'> & { seq: number };
      issuedAt: number;
      dead?: true;
    };

interface Item {
  id: string;
  /** The sequence compared from (null: full representation, as new). */
  from: number | null;
  removed?: 'changed' | 'deleted';
  /** Changed properties (updates only). */
  changed?: string[];
  members: { id: string; removed: boolean }[];
}

interface Round {
  spec: RoundSpec;
  pages: { item: Item; members: Item['members'] }[][];
  nextCarry: [string, number][];
}

export interface DeltaRequest {
  kind: DeltaKind;
  params: URLSearchParams;
  /** The Prefer header, if any. */
  prefer?: string;
  /** Base URL for links, e.g. https://127.0.0.1:8443 */
  base: string;
  /** An `emptyPage` fault: an empty page whose nextLink points at the same position. */
  emptyPage?: boolean;
}

/** A page, or an error for the server to shape as Graph's error body. */
export interface DeltaAnswer {
  status: number;
  body?: unknown;
  error?: { code: string; message: string };
  headers?: Record<string, string>;
}

export class DeltaService {
  readonly history = new DeltaHistory();
  private options: Resolved;
  private readonly tokens = new Map<string, TokenState>();
  private readonly rounds = new Map<string, Round>();
  private roundNo = 0;
  private resync: Record<DeltaKind, number> = { users: 0, groups: 0 };

  constructor(
    private dataset: () => Dataset,
    options: DeltaOptions = {},
  ) {
    this.options = resolve(DEFAULTS, options);
  }

  setOptions(options: DeltaOptions): void {
    this.options = resolve(this.options, options);
  }

  /**
   * Records a new data set. Until the first delta request there is no token to answer for, so the
   * history starts then (with the data set of that moment) and costs nothing before.
   */
  datasetChanging(next: Dataset): void {
    if (this.history.seq > 0) this.history.record(next);
  }

  /** The next `times` delta requests carrying a token get 410 Gone; older tokens of the kind die. */
  requireResync(kind?: DeltaKind, times = 1): void {
    for (const k of kind ? [kind] : (['users', 'groups'] as const)) this.resync[k] += times;
  }

  /** Every token issued so far is expired: its next use is answered 400 syncStateNotFound. */
  expireTokens(): void {
    for (const state of this.tokens.values()) state.dead = true;
  }

  handle(req: DeltaRequest): DeltaAnswer {
    if (this.history.seq === 0) this.history.record(this.dataset());
    const q = new Map<string, string>();
    for (const [k, v] of req.params) q.set(k.startsWith('$') ? k.toLowerCase() : k, v);
    for (const unsupported of ['$orderby', '$expand', '$search', '$count']) {
      if (q.has(unsupported)) {
        return error(
          400,
          'Request_UnsupportedQuery',
          `Query option '${unsupported}' is not supported with delta queries.`,
        );
      }
    }
    let select: { list: string[]; text?: string };
    if (q.has('$select')) {
      const list = q
        .get('$select')!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const allowed =
        req.kind === 'users' ? COLLECTIONS.users!.properties : new Set([...GROUP_PROPERTIES, 'members']);
      const unknown = list.find((p) => !allowed.has(p));
      if (unknown) {
        return error(
          400,
          'Request_BadRequest',
          `Could not find a property named '${unknown}' on type '${COLLECTIONS[req.kind]!.type}'.`,
        );
      }
      select = { list, text: q.get('$select')! };
    } else {
      select = {
        list: req.kind === 'users' ? COLLECTIONS.users!.defaultSelect! : [...GROUP_PROPERTIES, 'members'],
      };
    }
    let filter: { ids: string[]; text: string } | undefined;
    if (q.has('$filter')) {
      const ids = parseIdFilter(q.get('$filter')!);
      if (!ids) {
        return error(
          400,
          'Request_UnsupportedQuery',
          `Delta queries support only '$filter=id eq' filters, at most ${FILTER_LIMIT}, joined with 'or'.`,
        );
      }
      filter = { ids, text: q.get('$filter')! };
    }
    const now = this.options.clock();
    const skiptoken = q.get('$skiptoken');
    const deltatoken = q.get('$deltatoken');

    if (skiptoken !== undefined) {
      if (q.has('$select') || q.has('$filter')) {
        return error(
          400,
          'Request_UnsupportedQuery',
          'Query options cannot be given with a $skiptoken: they are in the token.',
        );
      }
      const state = this.tokens.get(skiptoken);
      const refused = this.refuse(req, state, now);
      if (refused) return refused;
      if (state!.type !== 'page') return syncStateNotFound();
      return this.page(req, state!.spec, state!.roundId, state!.page, now);
    }
    if (deltatoken !== undefined && deltatoken.toLowerCase() === 'latest') {
      const spec = {
        kind: req.kind,
        select: select.list,
        ...textOf(select, filter),
        carry: [],
        seq: this.history.seq,
      };
      return ok(this.context(req, spec), [], {
        '@odata.deltaLink': this.link(req, 'deltatoken', { type: 'delta', spec, issuedAt: now }),
      });
    }
    if (deltatoken) {
      const state = this.tokens.get(deltatoken);
      const refused = this.refuse(req, state, now);
      if (refused) return refused;
      if (state!.type !== 'delta') return syncStateNotFound();
      const saved = state!.spec;
      if (
        (select.text !== undefined && !sameJson(select.list, saved.select)) ||
        (filter && !sameJson(filter.ids, saved.ids))
      ) {
        return error(
          400,
          'Request_UnsupportedQuery',
          'The query options of a delta round are fixed in its token: start a new round to change $select or $filter.',
        );
      }
      const spec: RoundSpec = { ...saved, from: saved.seq, to: this.history.seq, roundNo: ++this.roundNo };
      return this.page(req, spec, randomId(), 0, now);
    }
    const spec: RoundSpec = {
      kind: req.kind,
      select: select.list,
      ...textOf(select, filter),
      from: null,
      to: this.history.seq,
      carry: [],
      roundNo: ++this.roundNo,
    };
    return this.page(req, spec, randomId(), 0, now);
  }

  /** A token that is unknown, expired, or met by the resync switch gets its error; else undefined. */
  private refuse(req: DeltaRequest, state: TokenState | undefined, now: number): DeltaAnswer | undefined {
    const stale = !state || state.dead || now - state.issuedAt > this.options.tokenLifetimeMs;
    if (stale || state.spec.kind !== req.kind) return syncStateNotFound();
    if (this.resync[req.kind] > 0) {
      this.resync[req.kind]--;
      for (const s of this.tokens.values()) if (s.spec.kind === req.kind) s.dead = true;
      const spec = state.spec;
      const query = [
        ...(spec.selectText !== undefined ? [`$select=${encodeURIComponent(spec.selectText)}`] : []),
        ...(spec.filterText !== undefined ? [`$filter=${encodeURIComponent(spec.filterText)}`] : []),
        '$deltatoken=',
      ];
      return {
        ...error(410, 'resyncRequired', 'Resync is required: start again with a full synchronization.'),
        headers: { location: `${req.base}/v1.0/${req.kind}/delta?${query.join('&')}` },
      };
    }
    return undefined;
  }

  private page(req: DeltaRequest, spec: RoundSpec, roundId: string, index: number, now: number): DeltaAnswer {
    let round = this.rounds.get(roundId);
    if (!round) {
      round = this.build(spec);
      this.rounds.set(roundId, round);
      if (this.rounds.size > ROUND_CACHE) this.rounds.delete(this.rounds.keys().next().value!);
    }
    const context = this.context(req, spec);
    if (req.emptyPage) {
      return ok(context, [], {
        '@odata.nextLink': this.link(req, 'skiptoken', {
          type: 'page',
          spec,
          roundId,
          page: index,
          issuedAt: now,
        }),
      });
    }
    const minimal = spec.from !== null && /(^|[,;\s])return=minimal\b/i.test(req.prefer ?? '');
    const value = (round.pages[index] ?? []).map((e) => this.project(spec, e.item, e.members, minimal));
    if (index + 1 < round.pages.length) {
      return ok(context, value, {
        '@odata.nextLink': this.link(req, 'skiptoken', {
          type: 'page',
          spec,
          roundId,
          page: index + 1,
          issuedAt: now,
        }),
      });
    }
    const { from: _from, to, roundNo: _roundNo, ...rest } = spec;
    const next = { ...rest, carry: round.nextCarry, seq: to };
    return ok(context, value, {
      '@odata.deltaLink': this.link(req, 'deltatoken', { type: 'delta', spec: next, issuedAt: now }),
    });
  }

  private build(spec: RoundSpec): Round {
    const h = this.history;
    const random = prng(this.options.seed * 7919 + spec.roundNo);
    const wanted = spec.ids ? new Set(spec.ids) : undefined;
    const trackMembers = spec.kind === 'groups' && spec.select.includes('members');
    const props = spec.select.filter((p) => p !== 'members');
    const items: Item[] = [];
    const nextCarry: [string, number][] = [];
    if (spec.from === null) {
      for (const id of h.activeAt(spec.kind, spec.to)) {
        if (wanted && !wanted.has(id)) continue;
        items.push(this.created(spec, id, null, trackMembers));
      }
    } else {
      const fromOf = new Map<string, number>();
      for (const id of h.changedBetween(spec.kind, spec.from, spec.to)) fromOf.set(id, spec.from);
      for (const [id, seq] of spec.carry) fromOf.set(id, Math.min(seq, fromOf.get(id) ?? seq));
      for (const [id, from] of fromOf) {
        if (wanted && !wanted.has(id)) continue;
        const item = this.diff(spec, id, from, props, trackMembers);
        if (!item) continue;
        if (random() < this.options.lateChance) {
          nextCarry.push([id, from]);
          continue;
        }
        items.push(item);
        if (random() < this.options.replayChance) nextCarry.push([id, from]);
      }
    }
    // Duplicates go later in the round, anywhere after the original.
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.options.duplicateChance > 0 && random() < this.options.duplicateChance) {
        const at = i + 1 + Math.floor(random() * (items.length - i));
        items.splice(at, 0, items[i]!);
      }
    }
    return { spec, pages: paginate(items, this.options.pageSize), nextCarry };
  }

  private created(spec: RoundSpec, id: string, from: number | null, trackMembers: boolean): Item {
    const now = this.history.stateAt(spec.kind, id, spec.to);
    const members = trackMembers && 'members' in now ? (now.members ?? []) : [];
    return { id, from, members: members.map((m) => ({ id: m, removed: false })) };
  }

  /** What changed for one object between two sequence numbers; undefined when nothing selected did. */
  private diff(
    spec: RoundSpec,
    id: string,
    from: number,
    props: string[],
    trackMembers: boolean,
  ): Item | undefined {
    const before: State = this.history.stateAt(spec.kind, id, from);
    const after: State = this.history.stateAt(spec.kind, id, spec.to);
    // An object made and removed between two rounds was never seen: nothing to report.
    if (after.status === 'soft') {
      return before.status === 'active' ? { id, from, removed: 'changed', members: [] } : undefined;
    }
    if (after.status !== 'active') {
      return before.status === 'active' || before.status === 'soft'
        ? { id, from, removed: 'deleted', members: [] }
        : undefined;
    }
    if (before.status !== 'active') return this.created(spec, id, null, trackMembers);
    const changed = props.filter((p) => p !== 'id' && !sameJson(before.obj![p], after.obj![p]));
    const members: Item['members'] = [];
    if (trackMembers) {
      const was = new Set(before.members ?? []);
      const is = new Set(after.members ?? []);
      for (const m of after.members ?? []) if (!was.has(m)) members.push({ id: m, removed: false });
      for (const m of before.members ?? []) if (!is.has(m)) members.push({ id: m, removed: true });
    }
    if (changed.length === 0 && members.length === 0) return undefined;
    return { id, from, changed, members };
  }

  private project(spec: RoundSpec, item: Item, members: Item['members'], minimal: boolean): GraphObject {
    if (item.removed) return { id: item.id, '@removed': { reason: item.removed } };
    const state = this.history.stateAt(spec.kind, item.id, spec.to);
    const obj = 'obj' in state ? state.obj! : {};
    const out: GraphObject = { id: item.id };
    for (const p of spec.select) {
      if (p === 'members' || p === 'id') continue;
      const value = obj[p];
      if (item.from === null || item.changed === undefined) {
        if (value !== null && value !== undefined) out[p] = value; // new: never-set properties absent
      } else if (minimal) {
        if (item.changed.includes(p)) out[p] = value ?? null;
      } else if (
        (value !== null && value !== undefined) ||
        this.history.everSet(spec.kind, item.id, p, spec.to)
      ) {
        out[p] = value ?? null;
      }
    }
    if (members.length > 0) {
      out['members@delta'] = members.map((m) => ({
        '@odata.type': '#microsoft.graph.user',
        id: m.id,
        ...(m.removed ? { '@removed': { reason: 'deleted' } } : {}),
      }));
    }
    return out;
  }

  private context(req: DeltaRequest, spec: { selectText?: string; select: string[] }): string {
    return `${req.base}/v1.0/$metadata#${req.kind}${spec.selectText !== undefined ? `(${spec.select.join(',')})` : ''}`;
  }

  private link(req: DeltaRequest, name: 'skiptoken' | 'deltatoken', state: TokenState): string {
    const id = randomId();
    this.tokens.set(id, state);
    if (this.tokens.size > TOKEN_LIMIT) this.tokens.delete(this.tokens.keys().next().value!);
    return `${req.base}/v1.0/${req.kind}/delta?$${name}=${id}`;
  }
}

/** Cuts a round into pages of `size` units; a group's member references continue on the next page. */
function paginate(items: Item[], size: number): Round['pages'] {
  const pages: Round['pages'] = [[]];
  let used = 0;
  const room = () => {
    if (used >= size) {
      pages.push([]);
      used = 0;
    }
    return size - used;
  };
  for (const item of items) {
    if (item.members.length === 0) {
      room();
      pages.at(-1)!.push({ item, members: [] });
      used++;
      continue;
    }
    for (let i = 0; i < item.members.length;) {
      const take = Math.max(1, room() - 1);
      const members = item.members.slice(i, i + take);
      pages.at(-1)!.push({ item, members });
      used += 1 + members.length;
      i += members.length;
    }
  }
  return pages;
}

/** `id eq '…'` terms joined by `or`, at most 50: the only filter Graph's directory delta takes. */
export function parseIdFilter(filter: string): string[] | undefined {
  const terms = filter.trim().split(/\s+or\s+/i);
  if (terms.length === 0 || terms.length > FILTER_LIMIT) return undefined;
  const ids: string[] = [];
  for (const term of terms) {
    const m = /^\(?\s*id\s+eq\s+'([^']+)'\s*\)?$/i.exec(term.trim());
    if (!m) return undefined;
    ids.push(m[1]!);
  }
  return ids;
}

function textOf(
  select: { text?: string },
  filter: { ids: string[]; text: string } | undefined,
): Pick<RoundSpec, 'selectText' | 'ids' | 'filterText'> {
  return {
    ...(select.text !== undefined ? { selectText: select.text } : {}),
    ...(filter ? { ids: filter.ids, filterText: filter.text } : {}),
  };
}

function resolve(base: Resolved, options: DeltaOptions): Resolved {
  const out = { ...base, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!Number.isInteger(out.pageSize) || out.pageSize < 2)
    throw new Error('delta pageSize must be a whole number of at least 2');
  for (const k of ['duplicateChance', 'lateChance', 'replayChance'] as const) {
    if (!(out[k] >= 0 && out[k] <= 1)) throw new Error(`delta ${k} must be between 0 and 1`);
  }
  if (!(out.tokenLifetimeMs > 0)) throw new Error('delta tokenLifetimeMs must be positive');
  return out;
}

function randomId(): string {
  return randomBytes(24).toString('base64url');
}

function ok(context: string, value: unknown[], link: Record<string, string>): DeltaAnswer {
  return { status: 200, body: { '@odata.context': context, value, ...link } };
}

function error(status: number, code: string, message: string): DeltaAnswer {
  return { status, error: { code, message } };
}

function syncStateNotFound(): DeltaAnswer {
  return error(
    400,
    'syncStateNotFound',
    'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
  );
}
