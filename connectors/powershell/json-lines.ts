/**
 * Reads a script's stdout as it arrives: bytes → UTF-8 text → lines → JSON Lines records. A UTF-8
 * character or a line may be split across two WinRM Receive chunks, so decoding is incremental
 * (TextDecoder with `stream: true`) and only the unfinished last line is ever held. Output beyond a
 * byte budget fails with OUTPUT_TOO_LARGE instead of exhausting memory.
 */
import { SyncError } from '../../domain/errors.js';
import { POWERSHELL_DEFAULTS } from './defaults.js';
import { ENTITY_KIND_NAMES, type EntityKindName } from '../../domain/entity-kinds.js';
import { normaliseParsed, normalisePsObject } from './normalise.js';
import { scriptLine, type ObjectRecord, type ScriptRecord } from './records.js';

export interface LineLimits {
  /**
   * Total bytes accepted before failing with OUTPUT_TOO_LARGE.
   * @default POWERSHELL_DEFAULTS.maxBytes (no limit)
   */
  maxBytes?: number;
  /**
   * Longest single line (UTF-16 code units) held while waiting for its end.
   * @default POWERSHELL_DEFAULTS.maxLineLength (64 Mi, POWERSHELL_MAX_LINE_CHARS's default)
   */
  maxLineLength?: number;
}

export interface JsonLinesOptions extends LineLimits {
  /**
   * Convert `\/Date(ms)\/` dates and known enums.
   * @default POWERSHELL_DEFAULTS.normalise (true)
   */
  normalise?: boolean;
}

/**
 * Deepest nesting of objects and arrays accepted in one line. A script's objects are a few levels
 * deep; a line nested thousands deep would overflow the stack in JSON.parse (and MongoDB refuses
 * documents nested over 100 levels), so it is read as text: its kind then fails its count check and
 * sweeps nothing.
 */
export const MAX_JSON_DEPTH = 64;
const TEXT_SHOWN = 500;

export function outputTooLarge(maxBytes: number): SyncError {
  return new SyncError(
    'OUTPUT_TOO_LARGE',
    `The PowerShell script wrote more than ${maxBytes} bytes; the output was cut off and nothing past the last complete kind is trusted. ` +
      'Raise the output limit (POWERSHELL_MAX_OUTPUT_BYTES) if the tenant is really this large.',
  );
}

/** Incremental UTF-8 line splitter: push bytes, get the complete lines so far. */
export class Utf8LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private parts: string[] = [];
  private partsLength = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxLineLength: number;

  constructor(limits: LineLimits = {}) {
    this.maxBytes = limits.maxBytes ?? POWERSHELL_DEFAULTS.maxBytes;
    this.maxLineLength = limits.maxLineLength ?? POWERSHELL_DEFAULTS.maxLineLength;
  }

  get bytesSeen(): number {
    return this.bytes;
  }

  push(chunk: Uint8Array): string[] {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes) throw outputTooLarge(this.maxBytes);
    return this.take(this.decoder.decode(chunk, { stream: true }));
  }

  /** The end of the stream: flushes a trailing partial character and the last line. */
  end(): string[] {
    const lines = this.take(this.decoder.decode());
    if (this.parts.length > 0) lines.push(stripCr(this.parts.join('')));
    this.parts = [];
    this.partsLength = 0;
    return lines;
  }

  private take(text: string): string[] {
    const lines: string[] = [];
    // Only the new text is searched for line ends; an unfinished line is kept in parts and joined
    // once, when its end arrives (re-scanning a growing string would make long lines quadratic).
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      lines.push(stripCr(this.parts.length > 0 ? this.parts.join('') + piece : piece));
      this.parts = [];
      this.partsLength = 0;
      start = nl + 1;
    }
    if (start < text.length) {
      this.parts.push(start === 0 ? text : text.slice(start));
      this.partsLength += text.length - start;
    }
    if (this.partsLength > this.maxLineLength) {
      throw new SyncError(
        'OUTPUT_TOO_LARGE',
        `The PowerShell script wrote a line longer than ${this.maxLineLength} characters; one object that large is not expected.`,
      );
    }
    return lines;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** One stdout line → a record (or a `text` record for anything outside the contract). */
export function parseScriptLine(line: string, normalise = true): ScriptRecord | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  if (trimmed.startsWith('{')) {
    if (nestedDeeperThan(trimmed, MAX_JSON_DEPTH)) {
      return {
        t: 'text',
        text: `an output line nested deeper than ${MAX_JSON_DEPTH} levels was not read (${trimmed.slice(0, 80)}…)`,
      };
    }
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined;
    }
    const object = objectLine(json, normalise);
    if (object) return object;
    const parsed = scriptLine.safeParse(json);
    if (parsed.success) {
      const record = parsed.data;
      if (normalise && record.t === 'obj') return { ...record, o: normalisePsObject(record.kind, record.o) };
      return record;
    }
  }
  return { t: 'text', text: trimmed.length > TEXT_SHOWN ? `${trimmed.slice(0, TEXT_SHOWN)}…` : trimmed };
}

const KINDS = new Set<string>(ENTITY_KIND_NAMES);

/**
 * An object line (nearly every line) as `scriptLine` gives it, without its copy of the object (and,
 * normalised, without `normalisePsObject`'s: `normaliseParsed`); undefined for any other line, or an
 * object with an own `__proto__` key (which the schema drops), which `scriptLine` then reads.
 */
function objectLine(json: unknown, normalise: boolean): ObjectRecord | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { t, kind, o } = json as Record<string, unknown>;
  if (t !== 'obj' || typeof kind !== 'string' || !KINDS.has(kind)) return undefined;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || Object.hasOwn(o, '__proto__'))
    return undefined;
  const name = kind as EntityKindName;
  const record = o as Record<string, unknown>;
  return { t: 'obj', kind: name, o: normalise ? normaliseParsed(name, record) : record };
}

/**
 * One linear pass: does the JSON text nest objects and arrays deeper than `max`? (Strings skipped:
 * from an opening quote to the next quote not escaped, found by indexOf, not a character at a time;
 * a string never closed ends the pass, as the definition `nestedDeeperThanByCharacter` reads it.)
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escaped(text, end, i)) end = text.indexOf('"', end + 1);
      if (end === -1) return false;
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes before it, after `from`. */
function escaped(text: string, at: number, from: number): boolean {
  let backslashes = 0;
  for (let j = at - 1; j > from && text.charCodeAt(j) === 0x5c; j--) backslashes++;
  return backslashes % 2 === 1;
}

/** The definition `nestedDeeperThan` follows, a character at a time (for tests). */
export function nestedDeeperThanByCharacter(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Push-style JSON Lines decoder, for callers that already own the loop over chunks. */
export class JsonLinesDecoder {
  private readonly lines: Utf8LineSplitter;
  private readonly normalise: boolean;

  constructor(options: JsonLinesOptions = {}) {
    this.lines = new Utf8LineSplitter(options);
    this.normalise = options.normalise ?? POWERSHELL_DEFAULTS.normalise;
  }

  push(chunk: Uint8Array): ScriptRecord[] {
    return this.records(this.lines.push(chunk));
  }

  end(): ScriptRecord[] {
    return this.records(this.lines.end());
  }

  private records(lines: string[]): ScriptRecord[] {
    const out: ScriptRecord[] = [];
    for (const line of lines) {
      const record = parseScriptLine(line, this.normalise);
      if (record) out.push(record);
    }
    return out;
  }
}

/** stdout bytes → records, one at a time, as they arrive. */
export async function* decodeJsonLines(
  chunks: AsyncIterable<Uint8Array>,
  options: JsonLinesOptions = {},
): AsyncIterable<ScriptRecord> {
  const decoder = new JsonLinesDecoder(options);
  for await (const chunk of chunks) yield* decoder.push(chunk);
  yield* decoder.end();
}
