/**
 * Validation of a tenant's Graph users filter (`GET /users?$filter=…`): the subset of OData v4 that
 * Microsoft Graph supports on directory objects, parsed by a tokenizer and a recursive-descent parser.
 * A filter is checked when it is saved, so a typo is refused with the reason and where it is, not
 * discovered at 3 a.m. as a 400 from Graph.
 *
 * Grammar (keywords case-insensitive, as Graph accepts `NOT`, `OR`, `startsWith`):
 *   filter     = or EOF
 *   or         = and ( "or" and )*
 *   and        = unary ( "and" unary )*
 *   unary      = "not" unary | "(" or ")" | function | path-expr
 *   function   = ( "startswith" | "endswith" ) "(" path "," string ")"
 *   path-expr  = path ( "/" ("any"|"all") "(" [ var ":" or ] ")"
 *                     | ( "eq"|"ne"|"gt"|"ge"|"lt"|"le" ) literal
 *                     | "in" "(" literal ( "," literal )* ")" )
 *   path       = name ( "/" ( name | "$count" ) )*
 *   literal    = 'string' ('' escapes a quote) | number | true | false | null | GUID | date[time]
 * `not` binds to the condition after it: `not accountEnabled eq true` means `not (accountEnabled eq true)`.
 *
 * `advanced` says whether the request needs the advanced query parameters (`ConsistencyLevel: eventual`
 * header and `$count=true`). The rules follow Microsoft's "Advanced query capabilities on Microsoft
 * Entra ID objects" (learn.microsoft.com/graph/aad-advanced-queries; source
 * microsoftgraph/microsoft-graph-docs-contrib concepts/aad-advanced-queries.md and its table
 * includes/filter-directory-objects.md for user properties):
 *   - `ne` and `not` work only as advanced queries;
 *   - `endsWith` works only as an advanced query (on mail, otherMails, userPrincipalName, proxyAddresses);
 *   - `$count` inside a filter (`assignedLicenses/$count eq 0`) is advanced;
 *   - comparing with `null` is advanced for every property that allows it;
 *   - `in` works by default where `eq` does (except createdDateTime and deletedDateTime);
 *   - some properties (companyName, mobilePhone, officeLocation, employeeType, onPremises… and more)
 *     support any filter only as an advanced query.
 * When unsure (a property not in the table, `gt`/`lt`, `all`, an empty `any()`), m365sync says
 * advanced: sending the advanced parameters with a query that does not need them is harmless (the
 * results are eventually consistent), omitting them when needed is a 400.
 */
import { z } from 'zod';
import { FilterSyntaxError, positionText } from './filter-syntax.js';

export type ODataFilterResult =
  | {
      ok: true;
      /** Send `ConsistencyLevel: eventual` and `$count=true` with this filter. */
      advanced: boolean;
      /** Why it is advanced, for the operator (empty when it is not). */
      advancedReasons: string[];
      /** The filter in canonical form: lower-case keywords, single spaces, minimal parentheses. */
      normalised: string;
    }
  | { ok: false; reason: string };

/** Long enough for any sensible filter; Graph itself refuses very long URLs. */
export const MAX_ODATA_FILTER_LENGTH = 2048;
const MAX_DEPTH = 32;

// ---------------------------------------------------------------------------------------------------
// Tokens

type TokenType = 'name' | 'string' | 'number' | 'guid' | 'datetime' | '(' | ')' | ',' | ':' | '/' | 'eof';

interface Token {
  type: TokenType;
  /** The text as written (for a string: the value, quotes removed and '' unescaped). */
  text: string;
  /** 0-based offset in the filter. */
  pos: number;
}

const GUID_AT =
  /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_])/y;
const DATETIME_AT =
  /(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(?:Z|[+-](\d{2}):(\d{2})))?(?![0-9A-Za-z_])/y;
const NUMBER_AT = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![0-9A-Za-z_])/y;
const NAME_AT = /\$?[A-Za-z_][A-Za-z0-9_]*/y;

function matchAt(re: RegExp, s: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(s);
}

function checkDateTime(m: RegExpExecArray, pos: number): void {
  const [, , month, day, hour, minute, second, offH, offM] = m;
  const bad =
    Number(month) < 1 ||
    Number(month) > 12 ||
    Number(day) < 1 ||
    Number(day) > 31 ||
    (hour !== undefined && Number(hour) > 23) ||
    (minute !== undefined && Number(minute) > 59) ||
    (second !== undefined && Number(second) > 59) ||
    (offH !== undefined && Number(offH) > 14) ||
    (offM !== undefined && Number(offM) > 59);
  if (bad) throw new FilterSyntaxError(`"${m[0]}" is not a valid date or time`, pos);
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if ('(),:/'.includes(c)) {
      tokens.push({ type: c as TokenType, text: c, pos: i });
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= s.length) throw new FilterSyntaxError("a text value is not closed: add the missing '", i);
        if (s[j] === "'") {
          if (s[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += s[j];
        j++;
      }
      tokens.push({ type: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    if (c === '"') {
      throw new FilterSyntaxError("text values take single quotes in OData ('Sales'), not double quotes", i);
    }
    let m = matchAt(GUID_AT, s, i);
    if (m) {
      tokens.push({ type: 'guid', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = matchAt(DATETIME_AT, s, i);
    if (m) {
      checkDateTime(m, i);
      tokens.push({ type: 'datetime', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = matchAt(NUMBER_AT, s, i);
    if (m) {
      tokens.push({ type: 'number', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = matchAt(NAME_AT, s, i);
    if (m) {
      tokens.push({ type: 'name', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    const shown =
      c.charCodeAt(0) < 0x20
        ? `a control character (U+${c.charCodeAt(0).toString(16).padStart(4, '0')})`
        : `"${c}"`;
    throw new FilterSyntaxError(`unexpected ${shown}`, i);
  }
  tokens.push({ type: 'eof', text: '', pos: s.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------------
// Syntax tree

type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
const COMPARE_OPS: readonly string[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
const FUNCTIONS = ['startswith', 'endswith'] as const;
type FunctionName = (typeof FUNCTIONS)[number];
const KEYWORDS = new Set([
  'and',
  'or',
  'not',
  'eq',
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'in',
  'true',
  'false',
  'null',
]);

interface Literal {
  kind: 'string' | 'number' | 'boolean' | 'null' | 'guid' | 'datetime';
  text: string;
}

/** A property path; `root` is the property of the user the condition is about. */
interface Path {
  segments: string[];
  /** The user property (for a lambda variable: the collection the lambda ranges over). */
  root: string;
  count: boolean;
}

type Node =
  | { type: 'or' | 'and'; items: Node[] }
  | { type: 'not'; operand: Node }
  | { type: 'compare'; path: Path; op: CompareOp; value: Literal }
  | { type: 'in'; path: Path; values: Literal[] }
  | { type: 'function'; name: FunctionName; path: Path; value: Literal }
  | { type: 'lambda'; path: Path; quantifier: 'any' | 'all'; variable?: string; body?: Node };

class Parser {
  private i = 0;
  private depth = 0;
  /** Lambda variables in scope, each with the collection property it ranges over. */
  private readonly scope: { name: string; root: string }[] = [];

  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.or();
    const t = this.peek();
    if (t.type !== 'eof') {
      throw new FilterSyntaxError(
        t.type === ')'
          ? 'there is a ")" without its "("'
          : `expected "and", "or" or the end of the filter, found ${this.describe(t)}`,
        t.pos,
      );
    }
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.type !== 'eof') this.i++;
    return t;
  }

  private isWord(t: Token, word: string): boolean {
    return t.type === 'name' && t.text.toLowerCase() === word;
  }

  private describe(t: Token): string {
    if (t.type === 'eof') return 'the end of the filter';
    if (t.type === 'string') return `'${t.text.replace(/'/g, "''")}'`;
    return `"${t.text}"`;
  }

  private fail(t: Token, expected: string): never {
    throw new FilterSyntaxError(
      `expected ${expected}, found ${this.describe(t)}`,
      t.type === 'eof' ? 'end' : t.pos,
    );
  }

  private expect(type: TokenType, expected: string): Token {
    const t = this.peek();
    if (t.type !== type) this.fail(t, expected);
    return this.next();
  }

  private enter(t: Token): void {
    if (++this.depth > MAX_DEPTH)
      throw new FilterSyntaxError(`the filter nests deeper than ${MAX_DEPTH} levels`, t.pos);
  }

  private or(): Node {
    const items = [this.and()];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      items.push(this.and());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  private and(): Node {
    const items = [this.unary()];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  private unary(): Node {
    const t = this.peek();
    this.enter(t);
    try {
      if (this.isWord(t, 'not')) {
        this.next();
        return { type: 'not', operand: this.unary() };
      }
      if (t.type === '(') {
        this.next();
        const inner = this.or();
        this.expect(')', 'a closing ")"');
        const after = this.peek();
        if (after.type === 'name' && COMPARE_OPS.includes(after.text.toLowerCase())) {
          throw new FilterSyntaxError(
            `a condition in parentheses cannot be compared with "${after.text}"; compare a property with a value`,
            after.pos,
          );
        }
        return inner;
      }
      if (t.type === 'name' && this.peek(1).type === '(') return this.functionCall();
      return this.pathExpression();
    } finally {
      this.depth--;
    }
  }

  private functionCall(): Node {
    const nameToken = this.next();
    const name = nameToken.text.toLowerCase();
    if (name === 'contains' || name === 'substringof') {
      throw new FilterSyntaxError(
        `Graph does not support ${nameToken.text}() on users; use startswith(), endswith() or a list of values with "in"`,
        nameToken.pos,
      );
    }
    if (!(FUNCTIONS as readonly string[]).includes(name)) {
      throw new FilterSyntaxError(
        `unknown function "${nameToken.text}" (supported: startswith, endswith)`,
        nameToken.pos,
      );
    }
    this.expect('(', '"("');
    const path = this.path();
    if (path.count)
      throw new FilterSyntaxError(`${name}() takes a text property, not a $count`, nameToken.pos);
    this.expect(',', `"," and the text ${name}() looks for`);
    const valueToken = this.peek();
    if (valueToken.type !== 'string') this.fail(valueToken, `a text value in single quotes for ${name}()`);
    this.next();
    this.expect(')', `")" to close ${name}(`);
    const after = this.peek();
    if (after.type === 'name' && COMPARE_OPS.includes(after.text.toLowerCase())) {
      throw new FilterSyntaxError(
        `${name}(…) is already a condition; drop "${after.text} …" after it (use "not ${name}(…)" to negate it)`,
        after.pos,
      );
    }
    return {
      type: 'function',
      name: name as FunctionName,
      path,
      value: { kind: 'string', text: valueToken.text },
    };
  }

  private path(): Path {
    const first = this.peek();
    if (first.type !== 'name') this.fail(first, 'a property name');
    if (first.text.startsWith('$')) {
      throw new FilterSyntaxError(`"${first.text}" cannot start a property path`, first.pos);
    }
    if (KEYWORDS.has(first.text.toLowerCase())) this.fail(first, 'a property name');
    this.next();
    const segments = [first.text];
    const variable = this.scope.find((v) => v.name === first.text);
    const root = variable ? variable.root : first.text;
    let count = false;
    while (this.peek().type === '/') {
      const lookahead = this.peek(1);
      if (
        lookahead.type === 'name' &&
        ['any', 'all'].includes(lookahead.text.toLowerCase()) &&
        this.peek(2).type === '('
      ) {
        break; // a lambda: the caller handles it
      }
      this.next();
      const segment = this.peek();
      if (segment.type !== 'name') this.fail(segment, 'a property name after "/"');
      if (count) throw new FilterSyntaxError('nothing may follow "$count" in a path', segment.pos);
      if (segment.text.startsWith('$')) {
        if (segment.text !== '$count') {
          throw new FilterSyntaxError(
            `"${segment.text}" is not supported in a path (only $count is)`,
            segment.pos,
          );
        }
        count = true;
      }
      this.next();
      segments.push(segment.text);
    }
    return { segments, root, count };
  }

  private pathExpression(): Node {
    const path = this.path();
    const t = this.peek();
    if (t.type === '/') {
      this.next();
      const quantifier = this.next().text.toLowerCase() as 'any' | 'all';
      this.expect('(', '"("');
      if (this.peek().type === ')') {
        this.next();
        return { type: 'lambda', path, quantifier };
      }
      const variable = this.expect('name', `a variable name for ${quantifier}(x: …)`);
      if (KEYWORDS.has(variable.text.toLowerCase()) || variable.text.startsWith('$')) {
        this.fail(variable, `a variable name for ${quantifier}(x: …)`);
      }
      this.expect(':', `":" after the variable "${variable.text}"`);
      this.scope.push({ name: variable.text, root: path.root });
      const body = this.or();
      this.scope.pop();
      this.expect(')', `")" to close ${quantifier}(`);
      return { type: 'lambda', path, quantifier, variable: variable.text, body };
    }
    if (t.type !== 'name') {
      this.fail(t, `an operator after "${path.segments.join('/')}" (eq, ne, gt, ge, lt, le, in)`);
    }
    const op = t.text.toLowerCase();
    if (op === 'in') {
      this.next();
      this.expect('(', '"(" and a list of values after "in"');
      const values = [this.literal()];
      while (this.peek().type === ',') {
        this.next();
        values.push(this.literal());
      }
      this.expect(')', '"," or ")" in the list of values');
      return { type: 'in', path, values };
    }
    if (!COMPARE_OPS.includes(op)) {
      this.fail(t, `an operator after "${path.segments.join('/')}" (eq, ne, gt, ge, lt, le, in)`);
    }
    this.next();
    const value = this.literal();
    return { type: 'compare', path, op: op as CompareOp, value };
  }

  private literal(): Literal {
    const t = this.peek();
    switch (t.type) {
      case 'string':
        this.next();
        return { kind: 'string', text: t.text };
      case 'number':
        this.next();
        return { kind: 'number', text: t.text };
      case 'guid':
        this.next();
        return { kind: 'guid', text: t.text };
      case 'datetime':
        this.next();
        return { kind: 'datetime', text: t.text };
      case 'name': {
        const word = t.text.toLowerCase();
        if (word === 'true' || word === 'false') {
          this.next();
          return { kind: 'boolean', text: word };
        }
        if (word === 'null') {
          this.next();
          return { kind: 'null', text: word };
        }
        throw new FilterSyntaxError(
          `"${t.text}" is not a value: compare a property with a value ('text' in single quotes, a number, true, false, null, a GUID or a date)`,
          t.pos,
        );
      }
      default:
        return this.fail(
          t,
          "a value ('text' in single quotes, a number, true, false, null, a GUID or a date)",
        );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Canonical form

function literalText(l: Literal): string {
  return l.kind === 'string' ? `'${l.text.replace(/'/g, "''")}'` : l.text;
}

function render(node: Node): string {
  switch (node.type) {
    case 'or':
      return node.items.map(render).join(' or ');
    case 'and':
      return node.items.map((n) => (n.type === 'or' ? `(${render(n)})` : render(n))).join(' and ');
    case 'not':
      return node.operand.type === 'function' || node.operand.type === 'lambda' || node.operand.type === 'not'
        ? `not ${render(node.operand)}`
        : `not (${render(node.operand)})`;
    case 'compare':
      return `${node.path.segments.join('/')} ${node.op} ${literalText(node.value)}`;
    case 'in':
      return `${node.path.segments.join('/')} in (${node.values.map(literalText).join(',')})`;
    case 'function':
      return `${node.name}(${node.path.segments.join('/')},${literalText(node.value)})`;
    case 'lambda':
      return `${node.path.segments.join('/')}/${node.quantifier}(${
        node.body ? `${node.variable}:${render(node.body)}` : ''
      })`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Advanced-query rules

type DefaultOp = 'eq' | 'in' | 'ge' | 'le' | 'startswith';

/**
 * The operators each user property supports WITHOUT the advanced query parameters, from Graph's
 * table (includes/filter-directory-objects.md). A property missing here, or an operator missing for
 * it, is treated as advanced.
 */
const USER_DEFAULT_OPS: Readonly<Record<string, readonly DefaultOp[]>> = {
  accountenabled: ['eq', 'in'],
  agegroup: ['eq', 'in'],
  assignedlicenses: ['eq'],
  assignedplans: ['eq'],
  businessphones: ['eq'],
  city: ['eq', 'in', 'ge', 'le', 'startswith'],
  consentprovidedforminor: ['eq', 'in'],
  country: ['eq', 'in', 'ge', 'le', 'startswith'],
  createddatetime: ['eq', 'ge', 'le'],
  creationtype: ['eq', 'in'],
  deleteddatetime: ['eq', 'ge', 'le'],
  department: ['eq', 'in', 'ge', 'le', 'startswith'],
  displayname: ['eq', 'in', 'startswith'],
  employeeid: ['eq', 'in', 'startswith'],
  givenname: ['eq', 'in', 'ge', 'le', 'startswith'],
  id: ['eq', 'in'],
  identities: ['eq'],
  imaddresses: ['eq', 'ge', 'le', 'startswith'],
  isresourceaccount: ['eq'],
  jobtitle: ['eq', 'in', 'ge', 'le'],
  mail: ['eq', 'in', 'ge', 'le', 'startswith'],
  mailnickname: ['eq', 'in', 'ge', 'le', 'startswith'],
  onpremisessecurityidentifier: ['eq', 'in'],
  onpremisessyncenabled: ['eq', 'in'],
  onpremisesuserprincipalname: ['eq', 'in', 'ge', 'le', 'startswith'],
  othermails: ['eq', 'in', 'ge', 'le', 'startswith'],
  proxyaddresses: ['eq', 'ge', 'le', 'startswith'],
  signinactivity: ['eq', 'ge', 'le'],
  state: ['eq', 'in', 'ge', 'le', 'startswith'],
  surname: ['eq', 'in', 'ge', 'le', 'startswith'],
  usagelocation: ['eq', 'in', 'ge', 'le', 'startswith'],
  userprincipalname: ['eq', 'in', 'startswith'],
  usertype: ['eq', 'in'],
  // Filterable only as advanced queries, whatever the operator.
  companyname: [],
  employeehiredate: [],
  employeetype: [],
  mobilephone: [],
  officelocation: [],
  onpremisesextensionattributes: [],
  onpremisesimmutableid: [],
  onpremiseslastsyncdatetime: [],
  onpremisessamaccountname: [],
  passwordpolicies: [],
  postalcode: [],
  preferredlanguage: [],
  showinaddresslist: [],
  streetaddress: [],
};

function advancedReasons(node: Node, reasons: Set<string>): void {
  const needs = (reason: string) => reasons.add(reason);
  const checkProperty = (path: Path, op: DefaultOp | 'gt' | 'lt') => {
    if (path.count) {
      needs(`$count in a filter (${path.segments.join('/')})`);
      return;
    }
    const supported = USER_DEFAULT_OPS[path.root.toLowerCase()];
    if (!supported) {
      needs(`${path.root} is not a property m365sync knows to filter by default`);
      return;
    }
    if (!(supported as readonly string[]).includes(op)) needs(`${op} on ${path.root}`);
  };
  switch (node.type) {
    case 'or':
    case 'and':
      for (const item of node.items) advancedReasons(item, reasons);
      return;
    case 'not':
      needs('not');
      advancedReasons(node.operand, reasons);
      return;
    case 'compare':
      if (node.op === 'ne') needs('ne');
      if (node.value.kind === 'null') needs(`comparing ${node.path.root} with null`);
      checkProperty(node.path, node.op === 'ne' ? 'eq' : node.op);
      return;
    case 'in':
      checkProperty(node.path, 'in');
      return;
    case 'function':
      if (node.name === 'endswith') needs('endswith');
      else checkProperty(node.path, 'startswith');
      return;
    case 'lambda':
      if (node.quantifier === 'all') needs('all(…) on a collection');
      if (!node.body) {
        needs(`${node.path.segments.join('/')}/any() without a condition`);
        return;
      }
      advancedReasons(node.body, reasons);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------

/** Checks a Graph users `$filter`; never throws. */
export function validateGraphUsersFilter(filter: string): ODataFilterResult {
  if (typeof filter !== 'string') return { ok: false, reason: 'the filter must be text' };
  if (filter.trim() === '') return { ok: false, reason: 'the filter is empty' };
  if (filter.length > MAX_ODATA_FILTER_LENGTH) {
    return {
      ok: false,
      reason: `the filter has ${filter.length} characters; at most ${MAX_ODATA_FILTER_LENGTH} are allowed`,
    };
  }
  try {
    const tree = new Parser(tokenize(filter)).parse();
    const reasons = new Set<string>();
    advancedReasons(tree, reasons);
    return { ok: true, advanced: reasons.size > 0, advancedReasons: [...reasons], normalised: render(tree) };
  } catch (error) {
    if (error instanceof FilterSyntaxError) {
      return { ok: false, reason: `${error.message} ${positionText(filter, error.pos)}` };
    }
    throw error;
  }
}

/**
 * For a tenant's settings schema: a Graph users filter, stored in its canonical form. An invalid
 * filter is refused with the reason.
 */
export const GraphUsersFilterSchema = z.string({ error: 'must be text' }).transform((filter, ctx) => {
  const result = validateGraphUsersFilter(filter);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: `is not a valid Graph users filter: ${result.reason}` });
    return z.NEVER;
  }
  return result.normalised;
});

/** True when the filter needs `ConsistencyLevel: eventual` and `$count=true` (an invalid one: false). */
export function isAdvancedQuery(filter: string): boolean {
  const result = validateGraphUsersFilter(filter);
  return result.ok && result.advanced;
}
