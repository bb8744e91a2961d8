/**
 * A small Graph delta client for the simulator's tests, over real HTTPS: signs in, follows a round's
 * nextLinks to its deltaLink, and merges rounds into a local copy the way Graph's docs tell a client
 * to (partial objects merged, removals applied, members@delta added and removed), so a test can say
 * "the first round plus every delta round since equals a fresh first round".
 */
import { Agent, request } from 'undici';
import type { GraphSimulator } from '../../../../simulators/graph/server.js';
import { CLIENT_ID, CLIENT_SECRET } from './simulated-graph.js';

export type Obj = Record<string, unknown> & { id: string };

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface Round {
  pages: Obj[][];
  /** Every object of every page, in order. */
  objects: Obj[];
  deltaLink: string;
  /** The URLs requested, first one included. */
  urls: string[];
}

export class DeltaClient {
  private readonly dispatcher: Agent;
  private token = '';

  constructor(private readonly sim: GraphSimulator) {
    this.dispatcher = new Agent({ connect: { ca: sim.ca } });
  }

  async signIn(): Promise<void> {
    const res = await request(`${this.sim.authorityHost}/${this.sim.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      dispatcher: this.dispatcher,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        scope: `${this.sim.url}/.default`,
      }).toString(),
    });
    if (res.statusCode !== 200) throw new Error(`sign-in answered ${res.statusCode}`);
    this.token = ((await res.body.json()) as { access_token: string }).access_token;
  }

  /** One GET; `url` is absolute or a path such as /v1.0/users/delta. */
  async get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await request(url.startsWith('https://') ? url : `${this.sim.url}${url}`, {
      dispatcher: this.dispatcher,
      headers: { authorization: `Bearer ${this.token}`, ...headers },
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: (await res.body.json()) as Record<string, unknown>,
    };
  }

  /** Follows nextLinks from `url` to the deltaLink; any other answer throws with its body. */
  async round(url: string, headers: Record<string, string> = {}): Promise<Round> {
    const round: Round = { pages: [], objects: [], deltaLink: '', urls: [] };
    for (let next: string | undefined = url; next;) {
      round.urls.push(next);
      const answer = await this.get(next, headers);
      if (answer.status !== 200) throw new Error(`${answer.status} ${JSON.stringify(answer.body)}`);
      const value = answer.body.value as Obj[];
      round.pages.push(value);
      round.objects.push(...value);
      next = answer.body['@odata.nextLink'] as string | undefined;
      if (!next) round.deltaLink = answer.body['@odata.deltaLink'] as string;
      if (round.urls.length > 10_000) throw new Error('a round that does not end');
    }
    return round;
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/** A client's copy of users or groups, kept by merging delta rounds. */
export class Replica {
  readonly objects = new Map<string, Obj>();
  readonly members = new Map<string, Set<string>>();

  apply(objects: Obj[]): this {
    for (const o of objects) {
      if (o['@removed']) {
        this.objects.delete(o.id);
        this.members.delete(o.id);
        continue;
      }
      const { 'members@delta': delta, ...props } = o;
      this.objects.set(o.id, { ...this.objects.get(o.id), ...props } as Obj);
      if (delta) {
        const set = this.members.get(o.id) ?? new Set<string>();
        for (const m of delta as Obj[]) {
          if (m['@removed']) set.delete(m.id);
          else set.add(m.id);
        }
        this.members.set(o.id, set);
      }
    }
    return this;
  }

  /** Objects by id with null properties dropped (a first round omits them), members sorted. */
  snapshot(): Record<string, { obj: Record<string, unknown>; members: string[] }> {
    const out: Record<string, { obj: Record<string, unknown>; members: string[] }> = {};
    for (const [id, o] of [...this.objects].sort(([a], [b]) => a.localeCompare(b))) {
      out[id] = {
        obj: Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)),
        members: [...(this.members.get(id) ?? [])].sort(),
      };
    }
    return out;
  }
}
