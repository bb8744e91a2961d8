import { Parser, processors } from 'xml2js';

/**
 * A namespace-stripped element tree. WS-Management servers choose their own prefixes (`s:`, `env:`,
 * `soap:`), so elements are matched by local name only; the few names we read are unambiguous.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

type Xml2jsNode = { $?: Record<string, string>; _?: string; [child: string]: unknown };

const parser = () =>
  new Parser({
    explicitArray: true,
    explicitCharkey: true,
    explicitRoot: true,
    trim: false,
    normalize: false,
    tagNameProcessors: [processors.stripPrefix],
    attrNameProcessors: [processors.stripPrefix],
    // Keep XML attributes such as xmlns:* out of the way; they are not needed once prefixes are stripped.
    xmlns: false,
  });

/** The element tree of a document: `parseSimpleXml`'s when it reads it, else xml2js's. */
export async function parseXml(text: string): Promise<XmlElement> {
  return parseSimpleXml(text) ?? parseXmlByXml2js(text);
}

/** The element tree as xml2js reads it (the definition `parseSimpleXml` follows). */
export async function parseXmlByXml2js(text: string): Promise<XmlElement> {
  // xml2js answers null (not an error) for a document without an element, e.g. an empty body.
  const parsed = (await parser().parseStringPromise(text)) as Record<string, unknown> | null;
  if (parsed === null || typeof parsed !== 'object') throw new Error('empty XML document');
  const [rootName] = Object.keys(parsed);
  if (rootName === undefined) throw new Error('empty XML document');
  return toElement(rootName, parsed[rootName], 0);
}

/**
 * WS-Management answers nest a dozen levels at most; a hostile or broken proxy could nest thousands,
 * and every walk of the tree (findFirst…) is recursive: refuse such a document here, where its parse
 * error is reported as a WinRM fault, rather than overflow the stack later.
 */
const MAX_DEPTH = 64;

function toElement(name: string, node: unknown, depth: number): XmlElement {
  if (depth > MAX_DEPTH) throw new Error(`XML nested deeper than ${MAX_DEPTH} levels`);
  if (typeof node !== 'object' || node === null) {
    return { name, attrs: {}, text: typeof node === 'string' ? node : '', children: [] };
  }
  const n = node as Xml2jsNode;
  const children: XmlElement[] = [];
  for (const [key, value] of Object.entries(n)) {
    if (key === '$' || key === '_') continue;
    for (const child of value as unknown[]) children.push(toElement(key, child, depth + 1));
  }
  return { name, attrs: n.$ ?? {}, text: n._ ?? '', children };
}

/** One element being read by `parseSimpleXml`. */
interface OpenElement {
  /** The name as written (prefix included): its end tag must match it. */
  raw: string;
  name: string;
  attrs: Record<string, string> | undefined;
  text: string;
  /** Children by local name, names in order of first appearance (xml2js's grouping). */
  children: Map<string, XmlElement[]> | undefined;
}

// Names, attribute values and text `parseSimpleXml` reads itself: ASCII names; values and text
// without entity references, CR, or the markup xml2js/sax would read otherwise.
const RAW_NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*$/;
const LOCAL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const PREFIX = /(?!xmlns)^.*:/; // xml2js's processors.stripPrefix
const ALL_WHITESPACE = /^\s*$/; // xml2js: an element's text that is dropped
const OUTSIDE_ROOT = /^[ \t\n]*$/;
const localNames = new Map<string, string | undefined>();

/** The local name xml2js would give (`stripPrefix`), or undefined for a name left to xml2js. */
function localName(raw: string, attribute: boolean): string | undefined {
  let name = localNames.get(raw);
  if (name === undefined && !localNames.has(raw)) {
    const stripped = raw.replace(PREFIX, '');
    const plain = RAW_NAME.test(raw) && !(raw in Object.prototype) && !(stripped in Object.prototype);
    name =
      plain && (attribute ? stripped !== '' : LOCAL_NAME.test(stripped) && stripped !== '_')
        ? stripped
        : undefined;
    if (localNames.size < 1000) localNames.set(raw, name);
  }
  return name;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/**
 * The tree xml2js (with the options above) and `toElement` give, read directly, for the plain XML
 * WS-Management answers are (above all Receive responses, most of whose bytes are base64 text, which
 * sax reads a character at a time); undefined for anything else, which xml2js then reads: entity or
 * character references, CDATA, comments, processing instructions but a leading XML declaration, a
 * DOCTYPE, a CR, non-ASCII or unusual names, a repeated attribute, anything after the root, nesting
 * deeper than `MAX_DEPTH`, and whatever is not well-formed.
 */
export function parseSimpleXml(text: string): XmlElement | undefined {
  let at = 0;
  if (text.startsWith('<?xml')) {
    const end = text.indexOf('?>');
    if (end < 0 || text.lastIndexOf('<', end) !== 0) return undefined;
    at = end + 2;
  }
  const stack: OpenElement[] = [];
  let root: XmlElement | undefined;
  while (at < text.length) {
    const lt = text.indexOf('<', at);
    const end = lt < 0 ? text.length : lt;
    if (end > at) {
      const piece = text.slice(at, end);
      const open = stack[stack.length - 1];
      if (open === undefined) {
        if (!OUTSIDE_ROOT.test(piece)) return undefined; // sax: only these outside the root
      } else {
        if (piece.includes('&') || piece.includes('\r') || piece.includes(']]>')) return undefined;
        open.text += piece;
      }
    }
    if (lt < 0) break;
    if (root !== undefined) return undefined; // markup after the root
    at = lt + 1;
    if (text.charCodeAt(at) === 0x2f) {
      // An end tag: </name>, the start tag's name exactly.
      const close = text.indexOf('>', at);
      if (close < 0) return undefined;
      const open = stack.pop();
      if (open === undefined || text.slice(at + 1, close) !== open.raw) return undefined;
      const element = closed(open);
      const parent = stack[stack.length - 1];
      if (parent === undefined) root = element;
      else append(parent, element);
      at = close + 1;
      continue;
    }
    // A start tag: <name attr="value" ...> or <name .../>.
    let nameEnd = at;
    while (
      nameEnd < text.length &&
      !isSpace(text.charCodeAt(nameEnd)) &&
      text[nameEnd] !== '>' &&
      text[nameEnd] !== '/'
    )
      nameEnd++;
    const raw = text.slice(at, nameEnd);
    const name = localName(raw, false);
    if (name === undefined) return undefined;
    if (stack.length > MAX_DEPTH) return undefined; // toElement refuses it
    const open: OpenElement = { raw, name, attrs: undefined, text: '', children: undefined };
    at = nameEnd;
    let seen: string[] | undefined;
    for (;;) {
      const spaced = isSpace(text.charCodeAt(at));
      while (isSpace(text.charCodeAt(at))) {
        if (text.charCodeAt(at) === 0x0d) return undefined;
        at++;
      }
      const c = text[at];
      if (c === '>') {
        at++;
        stack.push(open);
        break;
      }
      if (c === '/') {
        if (text[at + 1] !== '>') return undefined;
        at += 2;
        const element = closed(open);
        const parent = stack[stack.length - 1];
        if (parent === undefined) root = element;
        else append(parent, element);
        break;
      }
      // An attribute: name="value" or name='value', after a space.
      if (!spaced) return undefined;
      const eq = text.indexOf('=', at);
      if (eq < 0) return undefined;
      const attrRaw = text.slice(at, eq);
      const attrName = localName(attrRaw, true);
      const quote = text[eq + 1];
      if (attrName === undefined || (quote !== '"' && quote !== "'")) return undefined;
      const valueEnd = text.indexOf(quote, eq + 2);
      if (valueEnd < 0) return undefined;
      const value = text.slice(eq + 2, valueEnd);
      if (/[&<\r\n\t]/.test(value)) return undefined;
      seen ??= [];
      if (seen.includes(attrRaw)) return undefined; // sax keeps the first, xml2js the last: leave it to them
      seen.push(attrRaw);
      (open.attrs ??= {})[attrName] = value;
      at = valueEnd + 1;
    }
  }
  return stack.length === 0 ? root : undefined;
}

/** The element as `toElement` makes it of xml2js's object for it. */
function closed(open: OpenElement): XmlElement {
  let children: XmlElement[] = [];
  if (open.children !== undefined)
    for (const group of open.children.values())
      children = children.length === 0 ? group : children.concat(group);
  const blank = ALL_WHITESPACE.test(open.text);
  // xml2js drops blank text; an element left with nothing becomes that text (a string), kept.
  const text = blank ? (open.attrs === undefined && children.length === 0 ? open.text : '') : open.text;
  return { name: open.name, attrs: open.attrs ?? {}, text, children };
}

function append(parent: OpenElement, child: XmlElement): void {
  parent.children ??= new Map();
  const group = parent.children.get(child.name);
  if (group === undefined) parent.children.set(child.name, [child]);
  else group.push(child);
}

/** The first descendant (depth first) with this local name. */
export function findFirst(root: XmlElement, name: string): XmlElement | undefined {
  for (const child of root.children) {
    if (child.name === name) return child;
    const found = findFirst(child, name);
    if (found) return found;
  }
  return undefined;
}

/** Every descendant with this local name, in document order. */
export function findAll(root: XmlElement, name: string, into: XmlElement[] = []): XmlElement[] {
  for (const child of root.children) {
    if (child.name === name) into.push(child);
    findAll(child, name, into);
  }
  return into;
}

/** Follows a path of local names from `root`, first match at each step. */
export function path(root: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let node = root;
  for (const name of names) {
    node = node?.children.find((c) => c.name === name);
  }
  return node;
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes text for an element body or a double-quoted attribute. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}
