/**
 * The subset of the `-Filter` syntax of Get-CsOnlineUser and Get-EXOMailbox that the simulated
 * tenant applies: `Property -op value` with -eq -ne -like -notlike (and -contains for collections),
 * joined by -and / -or (equal precedence, left to right, as in PowerShell), grouped with
 * parentheses, negated with -not. Values: 'single' or "double" quoted text, bare words, $true,
 * $false, $null. Comparison ignores case; -like knows * and ?. Anything else is refused as the
 * cmdlets refuse an invalid filter.
 */
export type RecordPredicate = (o: Record<string, unknown>) => boolean;

type Token = { t: 'op' | 'value' | 'word' | 'open' | 'close'; v: string };

export class FilterError extends Error {}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ t: c === '(' ? 'open' : 'close', v: c });
      i++;
    } else if (c === "'" || c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new FilterError('unterminated string');
        if (text[i] === c) {
          if (text[i + 1] === c) {
            v += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      out.push({ t: 'value', v });
    } else if (c === '-') {
      const m = /^-[A-Za-z]+/.exec(text.slice(i));
      if (!m) throw new FilterError(`unexpected '-' at ${i + 1}`);
      out.push({ t: 'op', v: m[0].toLowerCase() });
      i += m[0].length;
    } else {
      const m = /^[^\s()'"]+/.exec(text.slice(i))!;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

function likeRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'is');
}

function prop(o: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? null : o[key];
}

const norm = (v: unknown) => (v === null || v === undefined ? null : String(v).toLowerCase());

export function compilePowerShellFilter(text: string): RecordPredicate {
  const tokens = tokenize(text);
  let pos = 0;
  const next = () => {
    const t = tokens[pos++];
    if (!t) throw new FilterError('unexpected end of the filter');
    return t;
  };
  const value = (): string | boolean | null => {
    const t = next();
    if (t.t === 'value') return t.v;
    if (t.t !== 'word') throw new FilterError(`expected a value, not '${t.v}'`);
    const w = t.v.toLowerCase();
    if (w === '$true') return true;
    if (w === '$false') return false;
    if (w === '$null') return null;
    if (t.v.startsWith('$')) throw new FilterError(`variables are not allowed: '${t.v}'`);
    return t.v;
  };
  const comparison = (): RecordPredicate => {
    const t = next();
    if (t.t === 'open') {
      const inner = expression();
      if (next().t !== 'close') throw new FilterError("expected ')'");
      return inner;
    }
    if (t.t === 'op' && t.v === '-not') {
      const inner = comparison();
      return (o) => !inner(o);
    }
    if (t.t !== 'word' || !/^[A-Za-z][A-Za-z0-9]*$/.test(t.v))
      throw new FilterError(`expected a property, not '${t.v}'`);
    const name = t.v;
    const op = next();
    if (op.t !== 'op') throw new FilterError(`expected an operator after ${name}`);
    const v = value();
    const wanted = norm(v);
    const eq = (o: Record<string, unknown>) => {
      const have = prop(o, name);
      if (typeof v === 'boolean') return have === v || norm(have) === String(v);
      return norm(have) === wanted;
    };
    switch (op.v) {
      case '-eq':
        return eq;
      case '-ne':
        return (o) => !eq(o);
      case '-like':
      case '-notlike': {
        const re = likeRegex(String(v ?? ''));
        const like = (o: Record<string, unknown>) => re.test(String(prop(o, name) ?? ''));
        return op.v === '-like' ? like : (o) => !like(o);
      }
      case '-contains': {
        return (o) => {
          const have = prop(o, name);
          return (Array.isArray(have) ? have : [have]).some((x) => norm(x) === wanted);
        };
      }
      default:
        throw new FilterError(`the operator ${op.v} is not supported in a filter`);
    }
  };
  const expression = (): RecordPredicate => {
    let left = comparison();
    while (tokens[pos]?.t === 'op' && (tokens[pos]!.v === '-and' || tokens[pos]!.v === '-or')) {
      const joiner = next().v;
      const l = left;
      const r = comparison();
      left = joiner === '-and' ? (o) => l(o) && r(o) : (o) => l(o) || r(o);
    }
    return left;
  };
  const test = expression();
  if (pos !== tokens.length) throw new FilterError(`unexpected '${tokens[pos]!.v}'`);
  return test;
}
