/**
 * The canonical JSON every content hash is made from: the direct writer must give exactly the text of
 * the definition (JSON.stringify re-inserting each object's keys sorted), or every stored object would
 * look changed after an upgrade.
 */
import { createHash, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from '../../../connectors/mongo/content-hash.js';
import { hashPrefix } from '../../../connectors/mongo/stored-keys.js';

/** The definition, as stored hashes were made before the direct writer. */
function definition(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: [2] });
const withProto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown;
const cases: Record<string, unknown> = {
  'a Graph user': {
    id: '7f0c',
    '@odata.type': '#microsoft.graph.user',
    displayName: 'Zoë "Z" O\'Neil\n',
    assignedLicenses: [{ skuId: 'x', disabledPlans: [] }],
    businessPhones: [],
    accountEnabled: true,
    onPremisesExtensionAttributes: { extensionAttribute1: null },
  },
  'key order': { b: 1, a: { d: 2, c: 3 }, A: 0, _: 1, ä: 2, '': 3, '"q"': 4, 'k\n': 5 },
  numbers: [0, -0, 1.5, 1e21, 1e-7, -3, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER],
  'undefined, functions and symbols': {
    a: undefined,
    b: () => 1,
    c: Symbol('s'),
    d: [undefined, () => 1, Symbol('t')],
  },
  'a sparse array': [1, , 3], // eslint-disable-line no-sparse-arrays
  'strings that need escaping': ['\u0000', '\u001f', '\u2028', '\ud800', 'a\\b', '"', '/'],
  'nested arrays': [[1, [2, [3]]], [], [{}]],
  'integer keys': { 10: 'a', 2: 'b', a: 'c', '01': 'd' },
  'a __proto__ key': withProto,
  'a null-prototype object': nullProto,
  dates: { at: new Date(0), bad: new Date(NaN), list: [new Date(1)] },
  toJSON: { a: { toJSON: () => ({ z: 1, y: 2 }) }, b: { toJSON: 'not a function', a: 1 } },
  'boxed values': { s: new String('x'), n: new Number(2), b: new Boolean(false) },
  'a map and a set': { m: new Map([[1, 2]]), s: new Set([1]) },
  scalars: [null, true, false, 'x', 1],
};

describe('canonicalJson', () => {
  for (const [name, value] of Object.entries(cases)) {
    it(`gives the definition's text for ${name}`, () => {
      expect(canonicalJson(value)).toBe(definition(value));
    });
  }

  it('gives the definition text for objects that share their first key but not their other keys', () => {
    // The writer keeps each key order it sorted by its first key: each must be compared in full.
    const objects = [
      { id: 1, b: 2, a: 3 },
      { id: 1, a: 3, b: 2 },
      { id: 1, b: 2, a: 3, c: 4 },
      { id: 1, b: 2, c: 3 },
      { id: 1, b: 2, a: 3 },
      { id: 1, b: 2, '0': 3 },
      { id: 1, b: 2, a: undefined },
      { id: 1, b: 2, a: 3 },
    ];
    for (const object of objects) expect(canonicalJson(object)).toBe(definition(object));
  });

  it('throws as the definition does on a BigInt', () => {
    expect(() => definition({ a: 1n })).toThrow(TypeError);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });

  it('gives the definition text for random nested values', () => {
    const keys = ['a', 'B', 'id', '@odata.type', '$x', '0', '7', 'toString', 'z z', 'é'];
    const random = (depth: number): unknown => {
      switch (randomInt(depth > 3 ? 5 : 7)) {
        case 0:
          return null;
        case 1:
          return randomInt(3) === 0 ? -randomInt(1000) / 7 : randomInt(1000);
        case 2:
          return String.fromCharCode(...Array.from({ length: randomInt(6) }, () => randomInt(0x3000)));
        case 3:
          return randomInt(2) === 0;
        case 4:
          return undefined;
        case 5:
          return Array.from({ length: randomInt(4) }, () => random(depth + 1));
        default:
          return Object.fromEntries(
            Array.from({ length: randomInt(5) }, () => [keys[randomInt(keys.length)]!, random(depth + 1)]),
          );
      }
    };
    for (let i = 0; i < 2000; i++) {
      const value = { root: random(0) };
      expect(canonicalJson(value)).toBe(definition(value));
    }
  });

  it('hashes SHA-256 of the canonical text, base64url', () => {
    const object = { b: [1, 'x'], a: { d: null, c: true } };
    const expected = createHash('sha256').update('{"a":{"c":true,"d":null},"b":[1,"x"]}').digest('base64url');
    expect(contentHash(object)).toBe(expected);
    expect(contentHash({ a: { c: true, d: null }, b: [1, 'x'] })).toBe(expected);
  });
});

describe('hashPrefix', () => {
  it('is the first 48 bits of a content hash, and NaN for what is no base64url hash', () => {
    for (const value of [{}, { a: 1 }, 'x', [1, 2]]) {
      const hash = contentHash(value);
      expect(hashPrefix(hash)).toBe(Buffer.from(hash, 'base64url').readUIntBE(0, 6));
    }
    expect(hashPrefix('________')).toBe(2 ** 48 - 1);
    expect(hashPrefix('AAAAAAAA')).toBe(0);
    for (const bad of [
      'AAAAAAA',
      'AAAA.AAA',
      'AAAAAAA=',
      'AAAAAAAĀ',
      'AAAAAAA\u0100',
      'AAAAAAA\u00c1',
      undefined,
      5,
    ])
      expect(hashPrefix(bad)).toBeNaN();
  });
});
