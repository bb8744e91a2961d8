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

export async function parseXml(text: string): Promise<XmlElement> {
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
