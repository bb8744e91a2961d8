/**
 * How the simulated proxy reads a SOAP request: a namespace-stripped element tree built on the `sax`
 * streaming parser. The client reads answers with its own parser (connectors/winrm/xml.ts, on
 * xml2js); the two share nothing, so a parsing bug cannot hide on both sides of a test.
 */
import sax from 'sax';

export interface SoapElement {
  /** Local name: clients choose their own prefixes (`s:`, `env:`, `soap:`). */
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: SoapElement[];
}

/** Requests nest a dozen levels; a deeper one is refused rather than walked recursively. */
const MAX_DEPTH = 64;

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/** The request's root element; throws on anything that is not one well-formed element tree. */
export function parseSoap(text: string): SoapElement {
  const parser = sax.parser(true);
  const open: SoapElement[] = [];
  let root: SoapElement | undefined;
  let failure: Error | undefined;
  parser.onerror = (error) => {
    failure ??= error;
  };
  parser.onopentag = (tag) => {
    if (open.length >= MAX_DEPTH) failure ??= new Error(`XML nested deeper than ${MAX_DEPTH} levels`);
    const attrs: Record<string, string> = {};
    for (const [key, value] of Object.entries(tag.attributes))
      if (key !== 'xmlns' && !key.startsWith('xmlns:')) attrs[localName(key)] = value;
    const element: SoapElement = { name: localName(tag.name), attrs, text: '', children: [] };
    const parent = open.at(-1);
    if (parent) parent.children.push(element);
    else if (root) failure ??= new Error('more than one root element');
    else root = element;
    open.push(element);
  };
  parser.onclosetag = () => void open.pop();
  parser.ontext = parser.oncdata = (chunk) => {
    const current = open.at(-1);
    if (current) current.text += chunk;
  };
  try {
    parser.write(text).close();
  } catch (error) {
    failure ??= error as Error;
  }
  if (failure) throw failure;
  if (!root) throw new Error('empty XML document');
  return root;
}

/** The first descendant (depth first) with this local name. */
export function firstNamed(root: SoapElement, name: string): SoapElement | undefined {
  for (const child of root.children) {
    if (child.name === name) return child;
    const found = firstNamed(child, name);
    if (found) return found;
  }
  return undefined;
}

/** Follows a path of local names from `root`, first match at each step. */
export function childPath(root: SoapElement | undefined, ...names: string[]): SoapElement | undefined {
  let node = root;
  for (const name of names) node = node?.children.find((c) => c.name === name);
  return node;
}

/** Escapes text for an element body or a double-quoted attribute of an answer. */
export function escapeText(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
