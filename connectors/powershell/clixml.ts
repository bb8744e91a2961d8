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

const STRING_ELEMENT = /<S S="([^"]*)">([\s\S]*?)<\/S>/g;
const OBJS_BLOCK = /<Objs\b[\s\S]*?(?:<\/Objs>|$)/g;
const MARKER = /#< CLIXML\r?\n?/g;

/** `_x000D__x000A_` → CR LF; `_x005F_` → `_`. Surrogate pairs arrive as two escapes and re-join. */
export function decodeClixmlEscapes(text: string): string {
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function decodeXmlEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9A-Fa-f]+);/g, (whole, name: string) => {
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
        return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
      }
    }
  });
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
    for (const match of block.matchAll(STRING_ELEMENT)) {
      const s = streamOf(match[1]!);
      const content = decodeClixmlEscapes(decodeXmlEntities(match[2]!));
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
