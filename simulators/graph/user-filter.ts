/**
 * The subset of OData `$filter` the Graph simulator applies to /users, enough to test instance
 * filters: `eq`/`ne` on a few user properties, `startswith`/`endswith`, `not`, `and`, `or`,
 * parentheses, and `assignedLicenses/any(x:x/skuId eq <guid>)`. Anything else is refused the way
 * Graph refuses it (400 Request_UnsupportedQuery). As in Graph, `ne`, `not` and `endswith` are
 * advanced queries: without `ConsistencyLevel: eventual` and `$count=true` they are a 400 too.
 * String comparisons ignore case, as Graph's do.
 */
import type { GraphObject } from './collections.js';

export type UserPredicate = (user: GraphObject) => boolean;

export type CompiledUserFilter =
  { ok: true; advanced: boolean; test: UserPredicate } | { ok: false; message: string };

const PROPERTIES = new Set([
  'id',
  'displayName',
  'userPrincipalName',
  'mail',
  'givenName',
  'surname',
  'department',
  'jobTitle',
  'usageLocation',
  'accountEnabled',
  'userType',
]);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Token = { t: 'word' | 'str' | 'punct'; v: string };

class Unsupported extends Error {}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ') {
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Unsupported('unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      out.push({ t: 'str', v });
    } else if ('(),:'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else {
      const m = /^[A-Za-z0-9_/.-]+/.exec(text.slice(i));
      if (!m) throw new Unsupported(`unexpected '${c}'`);
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

type Value = string | boolean | null;

function lower(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

export function compileUserFilter(text: string): CompiledUserFilter {
  let advanced = false;
  let pos = 0;
  let tokens: Token[];
  try {
    tokens = tokenize(text);
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  const peek = () => tokens[pos];
  const next = () => {
    const t = tokens[pos++];
    if (!t) throw new Unsupported('unexpected end');
    return t;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.v !== v || t.t === 'str') throw new Unsupported(`expected '${v}'`);
  };
  const property = (): string => {
    const t = next();
    if (t.t !== 'word' || !PROPERTIES.has(t.v)) throw new Unsupported(`property '${t.v}'`);
    return t.v;
  };
  const value = (): Value => {
    const t = next();
    if (t.t === 'str') return t.v;
    if (t.v === 'true') return true;
    if (t.v === 'false') return false;
    if (t.v === 'null') return null;
    if (GUID.test(t.v)) return t.v;
    throw new Unsupported(`value '${t.v}'`);
  };

  const primary = (): UserPredicate => {
    const t = next();
    if (t.t === 'punct' && t.v === '(') {
      const inner = or();
      expect(')');
      return inner;
    }
    if (t.t === 'word' && (t.v === 'startswith' || t.v === 'endswith')) {
      if (t.v === 'endswith') advanced = true;
      expect('(');
      const prop = property();
      expect(',');
      const s = next();
      if (s.t !== 'str') throw new Unsupported('startswith needs a string');
      expect(')');
      const wanted = s.v.toLowerCase();
      return t.v === 'startswith'
        ? (u) => typeof u[prop] === 'string' && (u[prop] as string).toLowerCase().startsWith(wanted)
        : (u) => typeof u[prop] === 'string' && (u[prop] as string).toLowerCase().endsWith(wanted);
    }
    if (t.t === 'word' && t.v === 'assignedLicenses/any') {
      expect('(');
      const variable = next();
      expect(':');
      const path = next();
      if (path.v !== `${variable.v}/skuId`) throw new Unsupported('any() supports x/skuId only');
      if (next().v !== 'eq') throw new Unsupported('any() supports eq only');
      const sku = value();
      expect(')');
      if (typeof sku !== 'string' || !GUID.test(sku)) throw new Unsupported('skuId must be a GUID');
      return (u) =>
        Array.isArray(u.assignedLicenses) &&
        (u.assignedLicenses as { skuId?: string }[]).some((l) => lower(l.skuId) === sku.toLowerCase());
    }
    pos--;
    const prop = property();
    const op = next().v;
    if (op !== 'eq' && op !== 'ne') throw new Unsupported(`operator '${op}'`);
    if (op === 'ne') advanced = true;
    const v = value();
    if (v === null) advanced = true;
    const eq: UserPredicate = (u) => lower(u[prop] ?? null) === lower(v);
    return op === 'eq' ? eq : (u) => !eq(u);
  };
  const unary = (): UserPredicate => {
    if (peek()?.t === 'word' && peek()!.v === 'not') {
      pos++;
      advanced = true;
      const inner = unary();
      return (u) => !inner(u);
    }
    return primary();
  };
  const and = (): UserPredicate => {
    let left = unary();
    while (peek()?.t === 'word' && peek()!.v === 'and') {
      pos++;
      const l = left;
      const r = unary();
      left = (u) => l(u) && r(u);
    }
    return left;
  };
  const or = (): UserPredicate => {
    let left = and();
    while (peek()?.t === 'word' && peek()!.v === 'or') {
      pos++;
      const l = left;
      const r = and();
      left = (u) => l(u) || r(u);
    }
    return left;
  };
  try {
    const test = or();
    if (pos !== tokens.length) throw new Unsupported(`unexpected '${tokens[pos]!.v}'`);
    return { ok: true, advanced, test };
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, message: error.message };
    throw error;
  }
}
