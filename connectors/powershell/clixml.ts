/**
 * powershell.exe with a redirected stderr (as under WinRM) writes its error, warning, verbose,
 * debug, information and progress streams as CLIXML: a `#< CLIXML` line, then `<Objs>` documents in
 * which each line of text is an `<S S="Error">…</S>` element, with characters XML cannot carry
 * (CR, LF, …) escaped as `_xHHHH_`. Progress records (`<Obj S="progress">`, e.g. "Preparing modules
 * for first use.") are noise and are dropped. What remains becomes readable messages, one per
 * PowerShell record: the message itself, without the "At line:" / "+ code" / "+ ~~~" echo of the
 * script (which could quote a script line) but with the FullyQualifiedErrorId kept for classification.
 */

export type ClixmlStream = 'error' | 'warning' | 'verbose' | 'debug' | 'information' | 'output';

export interface ClixmlMessage {
  stream: ClixmlStream;
  message: string;
  /** `FullyQualifiedErrorId` of an error record, e.g. `CommandNotFoundException`. */
  errorId?: string;
  /** `CategoryInfo` of an error record. */
  category?: string;
}

const OBJS_BLOCK = /<Objs\b[\s\S]*?(?:<\/Objs>|$)/g;
const MARKER = /#< CLIXML\r?\n?/g;

/** `_x000D__x000A_` → CR LF; `_x005F_` → `_`. Surrogate pairs arrive as two escapes and re-join. */
export function decodeClixmlEscapes(text: string): string {
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Code points XML 1.0 may carry; a reference to any other (`&#0;`, `&#99999999;`) reads as U+FFFD. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

function decodeXmlEntities(text: string): string {
  // At most 8 digits: a longer reference is never a valid code point, and is left as it is.
  return text.replace(/&(lt|gt|amp|quot|apos|#\d{1,8}|#x[0-9A-Fa-f]{1,8});/g, (_whole, name: string) => {
    switch (name) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const code = name.startsWith('#x') ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return isXmlChar(code) ? String.fromCodePoint(code) : '\uFFFD';
      }
    }
  });
}

/**
 * The `<S S="stream">text</S>` elements of a block, in order: each runs from its start tag to the first
 * `</S>` after it. A scan with indexOf, never going back, so time is linear in the block's length even
 * when it holds a megabyte of start tags that are never closed (a lazy regular expression looked for a
 * `</S>` from every one of them, again and again: quadratic, and the event loop stood still).
 */
function* stringElements(block: string): Generator<{ stream: string; content: string }> {
  const START = '<S S="';
  let at = 0;
  for (;;) {
    const start = block.indexOf(START, at);
    if (start < 0) return;
    const quote = block.indexOf('"', start + START.length);
    if (quote < 0) return; // no attribute ends anywhere after: no element can follow
    if (block[quote + 1] !== '>') {
      at = start + 1;
      continue;
    }
    const end = block.indexOf('</S>', quote + 2);
    if (end < 0) return; // never closed, nor is anything after it
    yield { stream: block.slice(start + START.length, quote), content: block.slice(quote + 2, end) };
    at = end + 4;
  }
}

function streamOf(attribute: string): ClixmlStream {
  const s = attribute.toLowerCase();
  if (s === 'error' || s === 'warning' || s === 'verbose' || s === 'debug' || s === 'information') return s;
  return 'output';
}

const PREFIX: Record<ClixmlStream, string> = {
  error: '',
  warning: 'WARNING: ',
  verbose: 'VERBOSE: ',
  debug: 'DEBUG: ',
  information: '',
  output: '',
};

/** Lines of one record → a message (and, for an error, its id and category). */
function toMessage(stream: ClixmlStream, lines: string[]): ClixmlMessage | undefined {
  const text: string[] = [];
  const info: Record<string, string> = {};
  let lastInfo: string | undefined;
  for (const raw of lines) {
    if (raw.trim() === '') continue;
    if (stream === 'error') {
      if (/^At (line:\d+|.*:\d+) char:\d+/.test(raw)) {
        lastInfo = undefined;
        continue;
      }
      if (/^\+(\s|$)/.test(raw)) continue; // "+ <script line>" and "+ ~~~~": the script echoed back
      const field = /^\s+\+ (\w+)\s*: ?(.*)$/.exec(raw);
      if (field) {
        lastInfo = field[1]!;
        info[lastInfo] = field[2]!.trimEnd();
        continue;
      }
      if (lastInfo && /^\s/.test(raw)) {
        // A wrapped CategoryInfo value continues, indented, on the next line (wrapped mid-word).
        info[lastInfo] = info[lastInfo]! + raw.trim();
        continue;
      }
    }
    text.push(raw.trim());
  }
  const message = text.join(' ').replace(/\s+/g, ' ').trim();
  if (message === '' && !info.FullyQualifiedErrorId) return undefined;
  return {
    stream,
    message: PREFIX[stream] + (message || (info.CategoryInfo ?? info.FullyQualifiedErrorId ?? '')),
    ...(info.FullyQualifiedErrorId ? { errorId: info.FullyQualifiedErrorId } : {}),
    ...(info.CategoryInfo ? { category: info.CategoryInfo } : {}),
  };
}

/**
 * Every message in a stderr text, progress dropped. Plain (non-CLIXML) text — a native program's
 * stderr, or text between CLIXML documents — comes back as error messages, one per line.
 */
export function decodeClixmlMessages(text: string): ClixmlMessage[] {
  const messages: ClixmlMessage[] = [];
  const plain = text.replace(OBJS_BLOCK, '\n').replace(MARKER, '\n');
  for (const line of plain.split(/\r?\n/)) {
    if (line.trim() !== '') messages.push({ stream: 'error', message: line.trim() });
  }

  let stream: ClixmlStream | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (stream && lines.length > 0) {
      const m = toMessage(stream, lines);
      if (m) messages.push(m);
    }
    lines = [];
  };
  for (const block of text.match(OBJS_BLOCK) ?? []) {
    for (const element of stringElements(block)) {
      const s = streamOf(element.stream);
      const content = decodeClixmlEscapes(decodeXmlEntities(element.content));
      if (s !== stream) {
        flush();
        stream = s;
      }
      // One <S> is one line, ending in CR LF; a line of only whitespace ends an error record.
      const line = content.replace(/\r?\n$/, '');
      if (line.trim() === '') {
        flush();
        continue;
      }
      lines.push(...line.split(/\r?\n/));
      if (s !== 'error') flush(); // warnings and the like are one line each
    }
    flush();
    stream = undefined;
  }
  return messages;
}

/** Readable messages from a CLIXML stderr text: errors as they are, warnings etc. prefixed. */
export function decodeClixml(text: string): string[] {
  return decodeClixmlMessages(text).map((m) => m.message);
}
