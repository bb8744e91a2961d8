/**
 * A small reader of PowerShell, enough to interpret the scripts the engine generates honestly: it
 * tokenizes PowerShell (single-quoted literals with all four quote characters and doubling, double-
 * quoted strings, variables, parameters, script blocks, comments) and parses statements into
 * assignments, pipelines of commands with their arguments, and function definitions. Written apart
 * from the connector's quoting code on purpose, so tests that round-trip through it check the
 * quoting against an independent reading of the language.
 */

export type Token =
  | { t: 'str'; value: string; expandable: boolean; pos: number }
  | { t: 'num'; value: number; pos: number }
  | { t: 'var'; name: string; pos: number }
  | { t: 'param'; name: string; colon: boolean; pos: number }
  | { t: 'word'; value: string; pos: number }
  | { t: 'type'; name: string; pos: number }
  | { t: 'punct'; value: string; pos: number }
  | { t: 'nl'; pos: number };

export class PsParseError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
    this.name = 'PsParseError';
  }
}

const SINGLE = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);
const DOUBLE = new Set(['"', '\u201C', '\u201D', '\u201E']);
const DASHES = new Set(['-', '\u2013', '\u2014', '\u2015']);
const WORD_END = new Set([' ', '\t', '\r', '\n', ';', '|', '(', ')', '{', '}', ',', '=', '&']);

export function isSingleQuote(c: string | undefined): boolean {
  return c !== undefined && SINGLE.has(c);
}

/** Reads a single-quoted literal starting at `start` (a quote): its value and where it ends. */
export function readSingleQuoted(src: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    if (i >= src.length) throw new PsParseError("The string is missing the terminator: '.", start);
    const c = src[i]!;
    if (SINGLE.has(c)) {
      if (!isSingleQuote(src[i + 1])) return { value, end: i + 1 };
      value += src[i + 1];
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
}

function readDoubleQuoted(src: string, start: number): { value: string; expandable: boolean; end: number } {
  let value = '';
  let expandable = false;
  let i = start + 1;
  for (;;) {
    if (i >= src.length) throw new PsParseError('The string is missing the terminator: ".', start);
    const c = src[i]!;
    if (DOUBLE.has(c)) {
      if (DOUBLE.has(src[i + 1] ?? '')) {
        value += src[i + 1];
        i += 2;
        continue;
      }
      return { value, expandable, end: i + 1 };
    }
    if (c === '`' && i + 1 < src.length) {
      const e = src[i + 1]!;
      value += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === '0' ? '\0' : e;
      i += 2;
      continue;
    }
    if (c === '$') expandable = true;
    value += c;
    i++;
  }
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const pos = i;
    if (c === ' ' || c === '\t' || c === '\f' || c === '\uFEFF') {
      i++;
    } else if (c === '`' && (src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n'))) {
      i += src[i + 1] === '\r' ? 3 : 2; // line continuation
    } else if (c === '\r' || c === '\n') {
      tokens.push({ t: 'nl', pos });
      i++;
    } else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '<' && src[i + 1] === '#') {
      const end = src.indexOf('#>', i + 2);
      if (end === -1) throw new PsParseError('Missing closing #> in comment block.', pos);
      i = end + 2;
    } else if (SINGLE.has(c)) {
      const r = readSingleQuoted(src, i);
      tokens.push({ t: 'str', value: r.value, expandable: false, pos });
      i = r.end;
    } else if (DOUBLE.has(c)) {
      const r = readDoubleQuoted(src, i);
      tokens.push({ t: 'str', value: r.value, expandable: r.expandable, pos });
      i = r.end;
    } else if (c === '@' && (src[i + 1] === '(' || src[i + 1] === '{')) {
      tokens.push({ t: 'punct', value: `@${src[i + 1]}`, pos });
      i += 2;
    } else if (c === '@' && (isSingleQuote(src[i + 1]) || DOUBLE.has(src[i + 1] ?? ''))) {
      throw new PsParseError('Here-strings are not used by generated scripts.', pos);
    } else if (c === '$') {
      let j = i + 1;
      if (src[j] === '{') {
        const end = src.indexOf('}', j);
        if (end === -1) throw new PsParseError('Missing closing } in variable name.', pos);
        tokens.push({ t: 'var', name: src.slice(j + 1, end), pos });
        i = end + 1;
        continue;
      }
      if (src[j] === '_' && !/[\w]/.test(src[j + 1] ?? '')) {
        tokens.push({ t: 'var', name: '_', pos });
        i = j + 1;
        continue;
      }
      while (j < src.length && /[\w:]/.test(src[j]!)) j++;
      if (j === i + 1) {
        if (src[j] === '(')
          throw new PsParseError('Sub-expressions $( ) are not used by generated scripts.', pos);
        throw new PsParseError('Invalid variable reference.', pos);
      }
      tokens.push({ t: 'var', name: src.slice(i + 1, j), pos });
      i = j;
    } else if (c === '[') {
      // A type literal: [string], [System.Text.UTF8Encoding], [string[]].
      let depth = 0;
      let j = i;
      do {
        if (src[j] === '[') depth++;
        else if (src[j] === ']') depth--;
        j++;
      } while (j < src.length && depth > 0);
      if (depth > 0) throw new PsParseError('Missing ] in type name.', pos);
      tokens.push({ t: 'type', name: src.slice(i + 1, j - 1), pos });
      i = j;
    } else if (c === ':' && src[i + 1] === ':') {
      tokens.push({ t: 'punct', value: '::', pos });
      i += 2;
    } else if ('{}(),;|=&.!'.includes(c)) {
      if (c === '+' && src[i + 1] === '=') {
        tokens.push({ t: 'punct', value: '+=', pos });
        i += 2;
      } else {
        tokens.push({ t: 'punct', value: c, pos });
        i++;
      }
    } else if (c === '+' && src[i + 1] === '=') {
      tokens.push({ t: 'punct', value: '+=', pos });
      i += 2;
    } else if (DASHES.has(c) && /[A-Za-z]/.test(src[i + 1] ?? '')) {
      let j = i + 1;
      while (j < src.length && /[\w]/.test(src[j]!)) j++;
      const colon = src[j] === ':';
      tokens.push({ t: 'param', name: src.slice(i + 1, j), colon, pos });
      i = colon ? j + 1 : j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[0-9]/.test(src[j]!)) j++;
      if (j < src.length && !WORD_END.has(src[j]!) && src[j] !== ']') {
        while (j < src.length && !WORD_END.has(src[j]!)) j++;
        tokens.push({ t: 'word', value: src.slice(i, j), pos });
      } else {
        tokens.push({ t: 'num', value: Number(src.slice(i, j)), pos });
      }
      i = j;
    } else {
      let j = i;
      while (j < src.length && !WORD_END.has(src[j]!) && !(src[j] === ':' && src[j + 1] === ':')) j++;
      if (j === i) throw new PsParseError(`Unexpected character '${c}'.`, pos);
      tokens.push({ t: 'word', value: src.slice(i, j), pos });
      i = j;
    }
  }
  return tokens;
}

export type Expr =
  | { t: 'str'; value: string; expandable: boolean }
  | { t: 'num'; value: number }
  | { t: 'var'; name: string }
  | { t: 'word'; value: string }
  | { t: 'array'; items: Expr[] }
  | { t: 'block'; params: string[]; body: Statement[]; filter?: boolean }
  | { t: 'sub'; pipeline: Pipeline }
  | { t: 'other'; text: string };

export type Arg = { t: 'param'; name: string; value?: Expr } | { t: 'pos'; value: Expr };

export interface Command {
  name: string;
  args: Arg[];
}

/** Commands joined by `|`; `head` is set when the pipeline starts with an expression (`$items`). */
export interface Pipeline {
  head?: Expr;
  commands: Command[];
}

export type StatementBody =
  | { t: 'function'; name: string; filter: boolean }
  | { t: 'assign'; variable: string | undefined; target: string; value: Pipeline }
  | { t: 'pipeline'; pipeline: Pipeline }
  | { t: 'static'; target: string }
  | { t: 'other' };
export type Statement = { line: number; text: string } & StatementBody;

/** Parameters written without a value (switches); a value after them is positional. */
const SWITCHES = new Set(
  [
    'AsPlainText',
    'Force',
    'PassThru',
    'SkipLoadingFormatData',
    'Confirm',
    'ExcludeContent',
    'Compress',
    'ShowBanner',
  ].map((s) => s.toLowerCase()),
);

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private isPunct(tok: Token | undefined, value: string): boolean {
    return tok?.t === 'punct' && tok.value === value;
  }

  private lineOf(pos: number): number {
    let line = 1;
    for (let k = 0; k < pos && k < this.src.length; k++) if (this.src[k] === '\n') line++;
    return line;
  }

  /** Statements until the end, or until the `}` that closes the block we are in. */
  statements(inBlock: boolean): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      while (this.peek()?.t === 'nl' || this.isPunct(this.peek(), ';')) this.i++;
      const tok = this.peek();
      if (!tok) {
        if (inBlock) throw new PsParseError("Missing closing '}' in statement block.", this.src.length);
        return out;
      }
      if (this.isPunct(tok, '}')) {
        if (!inBlock) throw new PsParseError("Unexpected token '}' in expression or statement.", tok.pos);
        return out;
      }
      out.push(this.statement());
    }
  }

  private statement(): Statement {
    const start = this.peek()!;
    const base = { line: this.lineOf(start.pos) };
    const finish = (s: StatementBody): Statement => {
      const endTok = this.tokens[this.i - 1];
      const endPos = endTok ? this.endOf(endTok) : start.pos;
      return { ...base, text: this.src.slice(start.pos, endPos).trim(), ...s };
    };

    if (start.t === 'word' && /^(function|filter)$/i.test(start.value)) {
      const name = this.peek(1);
      if (name?.t !== 'word') throw new PsParseError('Missing function name.', start.pos);
      this.i += 2;
      if (!this.isPunct(this.peek(), '{')) throw new PsParseError('Missing function body.', name.pos);
      this.skipBlock(); // the host runs its own implementation of the script's helper functions
      return finish({ t: 'function', name: name.value, filter: /^filter$/i.test(start.value) });
    }
    if (
      start.t === 'word' &&
      /^(if|while|for|foreach|do|switch|try|trap|return|exit|throw)$/i.test(start.value)
    ) {
      this.skipStatement();
      return finish({ t: 'other' });
    }
    if (start.t === 'var' && (this.isPunct(this.peek(1), '=') || this.isPunct(this.peek(1), '+='))) {
      this.i += 2;
      const value = this.pipeline();
      return finish({
        t: 'assign',
        variable: start.name,
        target: `$${start.name}`,
        value,
      });
    }
    if (start.t === 'type' && this.isPunct(this.peek(1), '::')) {
      // [Console]::OutputEncoding = ...: a static property set; the host allows a known few.
      this.skipStatement();
      const text = this.src.slice(start.pos, this.endOf(this.tokens[this.i - 1]!));
      return finish({ t: 'static', target: text.split('=')[0]!.trim() });
    }
    if (start.t === 'var' && this.isPunct(this.peek(1), '.')) {
      this.skipStatement();
      return finish({ t: 'other' });
    }
    return finish({ t: 'pipeline', pipeline: this.pipeline() });
  }

  private endOf(tok: Token): number {
    // The end of a token is the start of the next one (or of the rest of the line).
    const next = this.tokens[this.tokens.indexOf(tok) + 1];
    return next ? next.pos : this.src.length;
  }

  private atStatementEnd(): boolean {
    const tok = this.peek();
    return (
      !tok || tok.t === 'nl' || this.isPunct(tok, ';') || this.isPunct(tok, '}') || this.isPunct(tok, ')')
    );
  }

  private skipStatement(): void {
    let depth = 0;
    for (;;) {
      const tok = this.peek();
      if (!tok) return;
      if (depth === 0 && (tok.t === 'nl' || this.isPunct(tok, ';') || this.isPunct(tok, '}'))) {
        // `if (...) { } else { }` continues after a block on the same line
        if (tok.t === 'nl') {
          const next = this.peek(1);
          if (next?.t === 'word' && /^(else|elseif|catch|finally|while|until)$/i.test(next.value)) {
            this.i++;
            continue;
          }
        }
        return;
      }
      if (tok.t === 'punct' && ['{', '(', '@(', '@{'].includes(tok.value)) depth++;
      if (tok.t === 'punct' && ['}', ')'].includes(tok.value)) depth--;
      this.i++;
    }
  }

  private pipeline(): Pipeline {
    const pipeline: Pipeline = { commands: [] };
    const first = this.peek();
    if (first && first.t !== 'word') {
      pipeline.head = this.expression();
    } else {
      pipeline.commands.push(this.command());
    }
    while (this.isPunct(this.peek(), '|')) {
      this.i++;
      while (this.peek()?.t === 'nl') this.i++;
      pipeline.commands.push(this.command());
    }
    if (!this.atStatementEnd()) {
      const tok = this.peek()!;
      throw new PsParseError(`Unexpected token in expression or statement.`, tok.pos);
    }
    return pipeline;
  }

  private command(): Command {
    const name = this.peek();
    if (name?.t !== 'word') throw new PsParseError('Expected a command name.', name?.pos ?? this.src.length);
    this.i++;
    const args: Arg[] = [];
    while (!this.atStatementEnd() && !this.isPunct(this.peek(), '|')) {
      const tok = this.peek()!;
      if (tok.t === 'param') {
        this.i++;
        if (tok.colon) {
          args.push({ t: 'param', name: tok.name, value: this.listExpression() });
        } else if (
          !SWITCHES.has(tok.name.toLowerCase()) &&
          !this.atStatementEnd() &&
          !this.isPunct(this.peek(), '|') &&
          this.peek()?.t !== 'param'
        ) {
          args.push({ t: 'param', name: tok.name, value: this.listExpression() });
        } else {
          args.push({ t: 'param', name: tok.name });
        }
      } else {
        args.push({ t: 'pos', value: this.listExpression() });
      }
    }
    return { name: name.value, args };
  }

  /** `a`, or `a, b, c` (an array in argument mode). */
  private listExpression(): Expr {
    const first = this.expression();
    if (!this.isPunct(this.peek(), ',')) return first;
    const items = [first];
    while (this.isPunct(this.peek(), ',')) {
      this.i++;
      items.push(this.expression());
    }
    return { t: 'array', items };
  }

  private expression(): Expr {
    const tok = this.peek();
    if (!tok) throw new PsParseError('Missing expression.', this.src.length);
    switch (tok.t) {
      case 'str':
        this.i++;
        return { t: 'str', value: tok.value, expandable: tok.expandable };
      case 'num':
        this.i++;
        return { t: 'num', value: tok.value };
      case 'var':
        this.i++;
        if (this.isPunct(this.peek(), '.')) return this.otherUntilArgEnd(tok.pos);
        return { t: 'var', name: tok.name };
      case 'word':
        this.i++;
        return { t: 'word', value: tok.value };
      case 'type':
        return this.otherUntilArgEnd(tok.pos);
      case 'punct':
        if (tok.value === '{') return this.block();
        if (tok.value === '@(') {
          this.i++;
          const items: Expr[] = [];
          for (;;) {
            while (this.peek()?.t === 'nl') this.i++;
            if (this.isPunct(this.peek(), ')')) break;
            items.push(this.expression());
            while (this.isPunct(this.peek(), ',') || this.peek()?.t === 'nl') this.i++;
          }
          this.i++;
          return { t: 'array', items };
        }
        if (tok.value === '(') {
          this.i++;
          const pipeline = this.pipeline();
          if (!this.isPunct(this.peek(), ')')) throw new PsParseError("Missing closing ')'.", tok.pos);
          this.i++;
          return { t: 'sub', pipeline };
        }
        if (tok.value === '@{') return this.otherUntilArgEnd(tok.pos);
        break;
      default:
        break;
    }
    throw new PsParseError('Unexpected token in expression.', tok.pos);
  }

  /** Something the host does not evaluate ([type]::Member(...), $x.Property, @{...}): kept as text. */
  private otherUntilArgEnd(pos: number): Expr {
    let depth = 0;
    for (;;) {
      const tok = this.peek();
      if (!tok) break;
      if (
        depth === 0 &&
        (tok.t === 'nl' || tok.t === 'param' || ['|', ';', ',', '}', ')'].some((p) => this.isPunct(tok, p)))
      )
        break;
      if (tok.t === 'punct' && ['{', '(', '@(', '@{'].includes(tok.value)) depth++;
      if (tok.t === 'punct' && ['}', ')'].includes(tok.value)) depth--;
      this.i++;
    }
    const endTok = this.tokens[this.i - 1]!;
    return { t: 'other', text: this.src.slice(pos, this.endOf(endTok)).trim() };
  }

  private skipBlock(): void {
    const open = this.peek()!;
    let depth = 0;
    do {
      const tok = this.peek();
      if (!tok) throw new PsParseError("Missing closing '}' in statement block.", open.pos);
      if (tok.t === 'punct' && (tok.value === '{' || tok.value === '@{')) depth++;
      if (tok.t === 'punct' && tok.value === '}') depth--;
      this.i++;
    } while (depth > 0);
  }

  private block(): Expr {
    this.i++; // {
    const params: string[] = [];
    while (this.peek()?.t === 'nl') this.i++;
    const p = this.peek();
    if (p?.t === 'word' && p.value.toLowerCase() === 'param' && this.isPunct(this.peek(1), '(')) {
      this.i += 2;
      while (!this.isPunct(this.peek(), ')')) {
        const tok = this.peek();
        if (!tok) throw new PsParseError("Missing ')' in param block.", p.pos);
        if (tok.t === 'var') params.push(tok.name);
        this.i++;
      }
      this.i++;
    }
    const body = this.statements(true);
    this.i++; // }
    return { t: 'block', params, body };
  }
}

/** Parses a whole script; throws PsParseError (with the offset) as PowerShell would refuse it. */
export function parseScript(src: string): Statement[] {
  return new Parser(tokenize(src), src).statements(false);
}
