/**
 * Validation of a tenant's Teams users filter (`Get-CsOnlineUser -Filter`) and Exchange mailbox filter
 * (`Get-EXOMailbox -Filter`, OPATH). Both take the PowerShell comparison syntax
 * `Property -op 'value'` joined with `-and` / `-or`, negated with `-not (…)`, grouped with parentheses.
 *
 * The filter reaches the proxy as one single-quoted PowerShell string literal (connectors/powershell
 * ps-quote.ts), never spliced into code, so nothing in it can run. The cmdlets still parse it with
 * PowerShell-like rules, so this validator refuses what no valid filter needs and what could be read
 * as code: `$` variables and `$(…)` sub-expressions (only `$true`, `$false`, `$null` are allowed),
 * script blocks `{ }` (write the filter without the braces), backtick escapes, `;` `|` `&` and the like,
 * and typographic quotes anywhere, inside values too (PowerShell reads ‘ ’ ‚ ‛ “ ” „ as quotes, so
 * `'O’Brien'` is the value `O` followed by filter text `Brien'`). Inside a single-quoted value
 * everything is literal, `$(…)` included, exactly as in PowerShell; a double-quoted value may not hold
 * `$` or a backtick, because PowerShell would expand them there.
 *
 * `-and` and `-or` have equal precedence in PowerShell and apply left to right. The canonical form
 * keeps the operands and parentheses exactly as written (it never regroups), so it means what the
 * operator's filter meant.
 *
 * Sources: Get-CsOnlineUser reference (MicrosoftDocs/office-docs-powershell,
 * teams/teams-ps/teams/Get-CsOnlineUser.md): the filterable attributes of module 3.0+ and those added in
 * 5.9 (the known list below), `-contains` for array properties (FeatureTypes, ProxyAddresses),
 * `-not` dropped in 3.0; examples use both quote styles (`{AssignedPlan -like "*MCO*"}`) and bare
 * wildcards (`{LineURI -like *123*}`). Exchange OPATH (learn.microsoft.com/exchange/recipient-filters):
 * -and -or -not -eq -ne -lt -gt -like -notlike, property names without spaces.
 */
import { z } from 'zod';
import { FilterSyntaxError, positionText } from './filter-syntax.js';

export type PowerShellFilterDialect = 'teams' | 'exchange';

export type PowerShellFilterResult =
  | {
      ok: true;
      /** The filter in canonical form: single spaces, lower-case operators, values in single quotes. */
      normalised: string;
      /** Things that may not work (an attribute the cmdlet is not known to filter on); not refusals. */
      warnings: string[];
    }
  | { ok: false; reason: string };

export const MAX_POWERSHELL_FILTER_LENGTH = 2048;
const MAX_DEPTH = 32;

/** Attributes Get-CsOnlineUser filters on (module 3.0 list plus the 5.9 additions). */
export const TEAMS_FILTERABLE_PROPERTIES: readonly string[] = [
  'AccountEnabled',
  'AccountType',
  'Alias',
  'AssignedPlan',
  'AssignedPlans',
  'CallingLineIdentity',
  'City',
  'Company',
  'Country',
  'Department',
  'DisplayName',
  'EnterpriseVoiceEnabled',
  'ExternalAccessPolicy',
  'FeatureTypes',
  'GivenName',
  'HostingProvider',
  'Identity',
  'IsSipEnabled',
  'LastName',
  'LineUri',
  'OnlineAudioConferencingRoutingPolicy',
  'OnlineDialOutPolicy',
  'OnlineVoicemailPolicy',
  'OnlineVoiceRoutingPolicy',
  'OnPremEnterpriseVoiceEnabled',
  'OnPremHostingProvider',
  'OnPremLineURI',
  'OnPremSIPEnabled',
  'OwnerUrn',
  'PreferredDataLocation',
  'ProxyAddresses',
  'ShadowProxyAddresses',
  'SipAddress',
  'SoftDeletionTimestamp',
  'StateOrProvince',
  'Street',
  'TeamsAppPermissionPolicy',
  'TeamsAppSetupPolicy',
  'TeamsAudioConferencingPolicy',
  'TeamsCallHoldPolicy',
  'TeamsCallingPolicy',
  'TeamsCallParkPolicy',
  'TeamsChannelsPolicy',
  'TeamsComplianceRecordingPolicy',
  'TeamsCortanaPolicy',
  'TeamsEducationAssignmentsAppPolicy',
  'TeamsEmergencyCallingPolicy',
  'TeamsEmergencyCallRoutingPolicy',
  'TeamsFeedbackPolicy',
  'TeamsIPPhonePolicy',
  'TeamsMeetingBrandingPolicy',
  'TeamsMeetingBroadcastPolicy',
  'TeamsMeetingPolicy',
  'TeamsMessagingPolicy',
  'TeamsMobilityPolicy',
  'TeamsNotificationAndFeedsPolicy',
  'TeamsOwnersPolicy',
  'TeamsShiftsAppPolicy',
  'TeamsShiftsPolicy',
  'TeamsSurvivableBranchAppliancePolicy',
  'TeamsSyntheticAutomatedCallPolicy',
  'TeamsTargetingPolicy',
  'TeamsTemplatePermissionPolicy',
  'TeamsUpdateManagementPolicy',
  'TeamsUpgradeOverridePolicy',
  'TeamsUpgradePolicy',
  'TeamsVdiPolicy',
  'TeamsVerticalPackagePolicy',
  'TeamsVideoInteropServicePolicy',
  'TeamsWorkLoadPolicy',
  'TenantDialPlan',
  'Title',
  'UsageLocation',
  'UserDirSyncEnabled',
  'UserPrincipalName',
  'UserValidationErrors',
  'VoiceRoutingPolicy',
  'WhenChanged',
  'WhenCreated',
];
const TEAMS_KNOWN = new Set(TEAMS_FILTERABLE_PROPERTIES.map((p) => p.toLowerCase()));

const COMPARISON_OPERATORS = {
  teams: ['eq', 'ne', 'like', 'notlike', 'lt', 'gt', 'le', 'ge', 'contains', 'notcontains'],
  exchange: ['eq', 'ne', 'like', 'notlike', 'lt', 'gt', 'le', 'ge'],
} as const satisfies Record<PowerShellFilterDialect, readonly string[]>;
const LOGICAL_OPERATORS = ['and', 'or', 'not'];

const PROPERTY = /^[A-Za-z][A-Za-z0-9]*$/;

// ---------------------------------------------------------------------------------------------------
// Tokens

type TokenType = 'operator' | 'word' | 'string' | 'constant' | '(' | ')' | 'eof';

interface Token {
  type: TokenType;
  /** operator: lower-case name without '-'; string: the value unquoted; constant: `$true` etc. */
  text: string;
  pos: number;
}

const TYPOGRAPHIC_QUOTES = /[\u2018\u2019\u201A\u201B\u201C\u201D\u201E]/;
/** A bare value or property name: letters, digits and the few marks bare wildcards and numbers use. */
// Not starting with "@": `@(…)` and `@{…}` are PowerShell array and hashtable expressions.
const WORD_AT = /[A-Za-z0-9_*+:.][A-Za-z0-9_*+:.@]*/y;
const OPERATOR_AT = /-([A-Za-z]+)/y;
const DOLLAR_AT = /\$([A-Za-z_][A-Za-z0-9_]*)?/y;

function matchAt(re: RegExp, s: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(s);
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ type: c, text: c, pos: i });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= s.length) throw new FilterSyntaxError(`a value is not closed: add the missing ${c}`, i);
        const d = s[j]!;
        if (d === c) {
          if (s[j + 1] === c) {
            value += c;
            j += 2;
            continue;
          }
          break;
        }
        if (TYPOGRAPHIC_QUOTES.test(d)) {
          // PowerShell's tokenizer reads ‘ ’ ‚ ‛ as single quotes and “ ” „ as double quotes even
          // inside a quoted value: the cmdlet would see the value end there and read the rest as filter.
          throw new FilterSyntaxError(
            `typographic quote "${d}" is not allowed inside a value: PowerShell reads it as a quote, so the value would end there; use a straight ' (doubled inside single quotes) or leave it out`,
            j,
          );
        }
        if (c === '"' && d === '$') {
          throw new FilterSyntaxError(
            `a double-quoted value may not contain "$" (PowerShell would expand it); put the value in single quotes`,
            j,
          );
        }
        if (c === '"' && d === '`') {
          throw new FilterSyntaxError(
            'a double-quoted value may not contain a backtick (an escape in PowerShell); put the value in single quotes',
            j,
          );
        }
        value += d;
        j++;
      }
      tokens.push({ type: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const m = matchAt(DOLLAR_AT, s, i)!;
      const name = m[1]?.toLowerCase();
      if (name === 'true' || name === 'false' || name === 'null') {
        tokens.push({ type: 'constant', text: `$${name}`, pos: i });
        i += m[0].length;
        continue;
      }
      if (s[i + 1] === '(') {
        throw new FilterSyntaxError('sub-expressions $(…) are not allowed in a filter', i);
      }
      throw new FilterSyntaxError(
        `variables are not allowed in a filter ("${m[0]}"); the only $ values are $true, $false and $null`,
        i,
      );
    }
    if (c === '{' || c === '}') {
      throw new FilterSyntaxError(
        'script blocks { } are not allowed: write the filter without the braces (m365sync passes it as a string)',
        i,
      );
    }
    if (c === '`') throw new FilterSyntaxError('backtick escapes are not allowed in a filter', i);
    if (TYPOGRAPHIC_QUOTES.test(c)) {
      throw new FilterSyntaxError(
        `typographic quote "${c}" is not allowed: use straight quotes ' or " (PowerShell reads typographic quotes as quotes)`,
        i,
      );
    }
    if (c === '-') {
      const m = matchAt(OPERATOR_AT, s, i);
      if (m) {
        tokens.push({ type: 'operator', text: m[1]!.toLowerCase(), pos: i });
        i += m[0].length;
        continue;
      }
      const number = matchAt(WORD_AT, s, i + 1);
      if (number && /^\d/.test(number[0])) {
        tokens.push({ type: 'word', text: `-${number[0]}`, pos: i });
        i += 1 + number[0].length;
        continue;
      }
      throw new FilterSyntaxError('a "-" must start an operator such as -eq', i);
    }
    const m = matchAt(WORD_AT, s, i);
    if (m) {
      tokens.push({ type: 'word', text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    const code = c.charCodeAt(0);
    const shown =
      code < 0x20 || code === 0x7f
        ? `a control character (U+${code.toString(16).padStart(4, '0')})`
        : `"${c}"`;
    throw new FilterSyntaxError(`unexpected ${shown}`, i);
  }
  tokens.push({ type: 'eof', text: '', pos: s.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------------
// Syntax tree

interface Value {
  kind: 'string' | 'constant' | 'bare';
  text: string;
}

type Node =
  | { type: 'chain'; items: Node[]; ops: ('and' | 'or')[] }
  | { type: 'group'; inner: Node }
  | { type: 'not'; operand: Node }
  | { type: 'compare'; property: string; op: string; value: Value };

class Parser {
  private i = 0;
  private depth = 0;
  readonly warnings = new Set<string>();

  constructor(
    private readonly tokens: Token[],
    private readonly dialect: PowerShellFilterDialect,
  ) {}

  parse(): Node {
    const node = this.chain();
    const t = this.peek();
    if (t.type !== 'eof') {
      throw new FilterSyntaxError(
        t.type === ')'
          ? 'there is a ")" without its "("'
          : `expected -and, -or or the end of the filter, found ${this.describe(t)}`,
        t.pos,
      );
    }
    return node;
  }

  private peek(): Token {
    return this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.type !== 'eof') this.i++;
    return t;
  }

  private describe(t: Token): string {
    switch (t.type) {
      case 'eof':
        return 'the end of the filter';
      case 'operator':
        return `"-${t.text}"`;
      case 'string':
        return `'${t.text.replace(/'/g, "''")}'`;
      default:
        return `"${t.text}"`;
    }
  }

  private fail(t: Token, expected: string): never {
    throw new FilterSyntaxError(
      `expected ${expected}, found ${this.describe(t)}`,
      t.type === 'eof' ? 'end' : t.pos,
    );
  }

  private chain(): Node {
    const items = [this.unary()];
    const ops: ('and' | 'or')[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type !== 'operator' || (t.text !== 'and' && t.text !== 'or')) break;
      this.next();
      ops.push(t.text);
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { type: 'chain', items, ops };
  }

  private unary(): Node {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) {
      throw new FilterSyntaxError(`the filter nests deeper than ${MAX_DEPTH} levels`, t.pos);
    }
    try {
      if (t.type === 'operator' && t.text === 'not') {
        this.next();
        if (this.dialect === 'teams') {
          this.warnings.add('Get-CsOnlineUser dropped -not in Teams module 3.0; prefer -ne or -notlike');
        }
        const after = this.peek();
        if (after.type !== '(' && !(after.type === 'operator' && after.text === 'not')) {
          throw new FilterSyntaxError(
            'write -not (Property -op value): -not applies only to what directly follows it',
            after.type === 'eof' ? 'end' : after.pos,
          );
        }
        return { type: 'not', operand: this.unary() };
      }
      if (t.type === '(') {
        this.next();
        const inner = this.chain();
        if (this.peek().type !== ')') this.fail(this.peek(), 'a closing ")"');
        this.next();
        return { type: 'group', inner };
      }
      return this.comparison();
    } finally {
      this.depth--;
    }
  }

  private comparison(): Node {
    const t = this.peek();
    if (t.type !== 'word') this.fail(t, 'a property name');
    if (!PROPERTY.test(t.text)) {
      throw new FilterSyntaxError(
        `"${t.text}" is not a property name (letters and digits, starting with a letter)`,
        t.pos,
      );
    }
    this.next();
    if (this.dialect === 'teams' && !TEAMS_KNOWN.has(t.text.toLowerCase())) {
      this.warnings.add(
        `${t.text} is not among the attributes Get-CsOnlineUser is documented to filter on; the sync may fail if it is not filterable`,
      );
    }
    const opToken = this.peek();
    const allowed: readonly string[] = COMPARISON_OPERATORS[this.dialect];
    const opList = allowed.map((o) => `-${o}`).join(', ');
    if (opToken.type !== 'operator') this.fail(opToken, `an operator after ${t.text} (${opList})`);
    if (!allowed.includes(opToken.text)) {
      if (LOGICAL_OPERATORS.includes(opToken.text))
        this.fail(opToken, `an operator after ${t.text} (${opList})`);
      throw new FilterSyntaxError(
        `"-${opToken.text}" is not an operator ${
          this.dialect === 'teams' ? 'Get-CsOnlineUser' : 'an Exchange (OPATH)'
        } filter takes (${opList})`,
        opToken.pos,
      );
    }
    this.next();
    const v = this.peek();
    let value: Value;
    if (v.type === 'string') value = { kind: 'string', text: v.text };
    else if (v.type === 'constant') value = { kind: 'constant', text: v.text };
    else if (v.type === 'word') value = { kind: 'bare', text: v.text };
    else return this.fail(v, 'a value (\'text\', "text", a number, $true, $false or $null)');
    this.next();
    return { type: 'compare', property: t.text, op: opToken.text, value };
  }
}

// ---------------------------------------------------------------------------------------------------

function valueText(v: Value): string {
  return v.kind === 'string' ? `'${v.text.replace(/'/g, "''")}'` : v.text;
}

function render(node: Node): string {
  switch (node.type) {
    case 'chain':
      return node.items.map((item, k) => (k === 0 ? '' : ` -${node.ops[k - 1]} `) + render(item)).join('');
    case 'group':
      return `(${render(node.inner)})`;
    case 'not':
      return `-not ${render(node.operand)}`;
    case 'compare':
      return `${node.property} -${node.op} ${valueText(node.value)}`;
  }
}

/** Checks a Teams users or Exchange mailbox filter; never throws. */
export function validatePowerShellFilter(
  filter: string,
  dialect: PowerShellFilterDialect,
): PowerShellFilterResult {
  if (typeof filter !== 'string') return { ok: false, reason: 'the filter must be text' };
  if (filter.trim() === '') return { ok: false, reason: 'the filter is empty' };
  if (filter.length > MAX_POWERSHELL_FILTER_LENGTH) {
    return {
      ok: false,
      reason: `the filter has ${filter.length} characters; at most ${MAX_POWERSHELL_FILTER_LENGTH} are allowed`,
    };
  }
  const lineBreak = filter.search(/[\r\n]/);
  if (lineBreak >= 0) {
    return {
      ok: false,
      reason: `line breaks are not allowed in a filter ${positionText(filter, lineBreak)}`,
    };
  }
  try {
    const parser = new Parser(tokenize(filter), dialect);
    const tree = parser.parse();
    return { ok: true, normalised: render(tree), warnings: [...parser.warnings] };
  } catch (error) {
    if (error instanceof FilterSyntaxError) {
      return { ok: false, reason: `${error.message} ${positionText(filter, error.pos)}` };
    }
    throw error;
  }
}

export function validateTeamsUsersFilter(filter: string): PowerShellFilterResult {
  return validatePowerShellFilter(filter, 'teams');
}

export function validateExchangeMailboxFilter(filter: string): PowerShellFilterResult {
  return validatePowerShellFilter(filter, 'exchange');
}

function filterSchema(dialect: PowerShellFilterDialect, label: string) {
  return z.string({ error: 'must be text' }).transform((filter, ctx) => {
    const result = validatePowerShellFilter(filter, dialect);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: `is not a valid ${label}: ${result.reason}` });
      return z.NEVER;
    }
    return result.normalised;
  });
}

/** For a tenant's settings schema: the filters stored in canonical form, invalid ones refused. */
export const TeamsUsersFilterSchema = filterSchema('teams', 'Teams users filter');
export const ExchangeMailboxFilterSchema = filterSchema('exchange', 'Exchange mailbox filter');
