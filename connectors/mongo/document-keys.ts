/**
 * Makes any object a connector hands us (a Graph resource, a PowerShell object as JSON) storable on both
 * FerretDB v1 and MongoDB, and gives it back unchanged when read.
 *
 * FerretDB v1 refuses what MongoDB tolerates, and both refuse a few things JSON allows:
 * - keys containing '.' (`@odata.type`, `@odata.context`) or starting with '$' (`$schema`);
 * - keys containing NUL (BSON keys are C strings);
 * - arrays directly inside arrays (`[[1, 2]]`, e.g. a PowerShell jagged array);
 * - NaN and ±Infinity (FerretDB drops the connection on NaN).
 *
 * The escape scheme, chosen so that decoding is exact and unambiguous:
 * - In keys, '%' becomes '%25', '.' becomes '%2E', NUL becomes '%00', and a leading '$' becomes '%24'.
 *   Every '%' of an original key is escaped, so '%' followed by two hex digits in a stored key always
 *   came from this scheme. `@odata.type` is stored as `@odata%2Etype`.
 * - An array directly inside an array is stored as `{ "%array": [...] }`; a number that is not finite
 *   as `{ "%number": "NaN" | "Infinity" | "-Infinity" }`. No escaped key can be `%array` or `%number`
 *   (an original '%' is always followed by '25'), so these wrappers never collide with real data.
 * - A string value containing NUL is stored as `{ "%nul": [the parts between the NULs] }`: FerretDB's
 *   PostgreSQL backend refuses NUL in strings (jsonb: "unsupported Unicode escape sequence"), though
 *   MongoDB and FerretDB on SQLite keep it.
 * - `undefined` members are dropped, as JSON would; Dates are kept as BSON dates.
 */

const WRAP_ARRAY = '%array';
const WRAP_NUMBER = '%number';
const WRAP_NUL = '%nul';

// eslint-disable-next-line no-control-regex -- NUL is exactly what must be escaped
const ESCAPED_IN_KEY = /[%.\u0000]/;

export function encodeKey(key: string): string {
  // Most keys need nothing: returned as they are, without building a new string.
  if (key.charCodeAt(0) !== 0x24 && !ESCAPED_IN_KEY.test(key)) return key;
  // eslint-disable-next-line no-control-regex -- NUL is exactly what must be escaped
  let out = key.replace(/[%.\u0000]/g, (c) => (c === '%' ? '%25' : c === '.' ? '%2E' : '%00'));
  if (out.startsWith('$')) out = `%24${out.slice(1)}`;
  return out;
}

export function decodeKey(key: string): string {
  return key.replace(/%(25|2E|00|24)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function encodeNumber(n: number): unknown {
  return Number.isFinite(n) ? n : { [WRAP_NUMBER]: String(n) };
}

function encodeValue(value: unknown, insideArray: boolean): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' && value.includes('\u0000')) return { [WRAP_NUL]: value.split('\u0000') };
    return typeof value === 'number' ? encodeNumber(value) : value;
  }
  if (value instanceof Date) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => (item === undefined ? null : encodeValue(item, true)));
    return insideArray ? { [WRAP_ARRAY]: items } : items;
  }
  return encodeCopy(value as Record<string, unknown>);
}

/**
 * The storable form of one object (a plain object; arrays and scalars belong inside one): the object
 * itself when nothing in it needs escaping (`storableAsIs`: most objects), so it is not copied for
 * every write; else `encodeCopy`'s copy. Either serialises to the same BSON.
 */
export function encodeDocument(object: Record<string, unknown>): Record<string, unknown> {
  return storableAsIs(object, false) ? object : encodeCopy(object);
}

/** Keys checked by `storableAsIs` (true: stored as they are), at most `KEYS_KEPT` of them. */
const plainKeys = new Map<string, boolean>();
const KEYS_KEPT = 10_000;

function plainKey(key: string): boolean {
  let plain = plainKeys.get(key);
  if (plain === undefined) {
    plain = key !== '__proto__' && encodeKey(key) === key;
    if (plainKeys.size < KEYS_KEPT) plainKeys.set(key, plain);
  }
  return plain;
}

/**
 * Whether `encodeCopy` would copy the value unchanged: JSON-like values only (plain objects and arrays
 * of Object's and Array's prototypes, strings without NUL, finite numbers, booleans, null, Dates), no
 * key to escape (nor `__proto__`, which the copy would not keep as a key), no array directly in an
 * array, no undefined (dropped or made null by the copy) and no hole.
 */
function storableAsIs(value: unknown, insideArray: boolean): boolean {
  switch (typeof value) {
    case 'string':
      return !value.includes('\u0000');
    case 'number':
      return Number.isFinite(value);
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null || value instanceof Date) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (insideArray || proto !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) if (!(i in value) || !storableAsIs(value[i], true)) return false;
    return true;
  }
  if (proto !== Object.prototype) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key) || !plainKey(key) || !storableAsIs(record[key], false)) return false;
  }
  return true;
}

/** The storable form of one object, always a copy (the definition `encodeDocument` follows). */
export function encodeCopy(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue;
    out[encodeKey(key)] = encodeValue(value, false);
  }
  return out;
}

function isWrapper(value: Record<string, unknown>, key: string): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === key;
}

function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const record = value as Record<string, unknown>;
  if (isWrapper(record, WRAP_ARRAY) && Array.isArray(record[WRAP_ARRAY])) {
    return (record[WRAP_ARRAY] as unknown[]).map(decodeValue);
  }
  if (isWrapper(record, WRAP_NUMBER) && typeof record[WRAP_NUMBER] === 'string') {
    return Number(record[WRAP_NUMBER]);
  }
  if (isWrapper(record, WRAP_NUL) && Array.isArray(record[WRAP_NUL])) {
    return (record[WRAP_NUL] as string[]).join('\u0000');
  }
  return decodeDocument(record);
}

/** The original object back from its stored form. */
export function decodeDocument(stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stored)) out[decodeKey(key)] = decodeValue(value);
  return out;
}
