import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BSON } from 'mongodb';
import {
  decodeDocument,
  decodeKey,
  encodeCopy,
  encodeDocument,
  encodeKey,
} from '../../../connectors/mongo/document-keys.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const nasty: Record<string, unknown> = {
  '@odata.type': '#microsoft.graph.user',
  '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
  $schema: 'x',
  a$b: 1,
  '%': 'percent',
  '%2E': 'looks escaped already',
  '%array': 'a key that looks like the wrapper',
  'dot.in.middle.': { 'nested.key': { $ref: 'deep' } },
  'nul\u0000key': 'value with NUL \u0000 inside',
  '': 'empty key',
  jagged: [[1, 2], [], [[3, [4]]], 'x', null, { 'k.k': [[true]] }],
  numbers: [0, -1, 1.5, 2 ** 52, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
  emoji: '✓ ü 𝄞',
  when: new Date('2026-01-02T03:04:05.000Z'),
  empty: {},
  nothing: null,
};

describe('document keys', () => {
  it('escapes only what the servers refuse, reversibly', () => {
    expect(encodeKey('@odata.type')).toBe('@odata%2Etype');
    expect(encodeKey('$schema')).toBe('%24schema');
    expect(encodeKey('a$b')).toBe('a$b');
    expect(encodeKey('100%')).toBe('100%25');
    expect(encodeKey('displayName')).toBe('displayName');
    for (const key of Object.keys(nasty)) expect(decodeKey(encodeKey(key))).toBe(key);
  });

  it('leaves no dotted, $-led or NUL key, no NUL in a string and no nested array in the stored form', () => {
    const stored = encodeDocument(nasty);
    const walk = (value: unknown, inArray: boolean): void => {
      if (Array.isArray(value)) {
        expect(inArray).toBe(false);
        value.forEach((v) => walk(v, true));
      } else if (value && typeof value === 'object' && !(value instanceof Date)) {
        for (const [k, v] of Object.entries(value)) {
          expect(k.includes('.') || k.startsWith('$') || k.includes('\u0000')).toBe(false);
          walk(v, false);
        }
      } else if (typeof value === 'number') {
        expect(Number.isFinite(value)).toBe(true);
      } else if (typeof value === 'string') {
        expect(value.includes('\u0000')).toBe(false); // FerretDB on PostgreSQL refuses it
      }
    };
    walk(stored, false);
    expect(decodeDocument(stored)).toEqual(nasty);
  });

  it('stores an object that needs nothing escaped as it is, and anything else as its copy, to the same BSON', () => {
    const plain = {
      id: 'u1',
      displayName: 'Zoë',
      list: [1, 'x', null, true, { a: [2] }],
      when: new Date(0),
      nested: { deeper: { n: -0, big: 2 ** 60 } },
      '': 'empty key',
      '1': 'integer key',
      a$b: 'dollar inside',
    };
    const bson = (value: Record<string, unknown>) => {
      try {
        return BSON.serialize(value);
      } catch (error) {
        return (error as Error).message;
      }
    };
    for (const object of Object.entries(nasty).map(([k, v]) => ({ id: 'x', [k]: v }))) {
      expect(bson(encodeDocument(object))).toEqual(bson(encodeCopy(object)));
      expect(encodeDocument(object)).toStrictEqual(encodeCopy(object));
    }
    const escaped: Record<string, unknown>[] = [
      { a: undefined },
      { a: [undefined] },
      { a: [1, , 2] }, // eslint-disable-line no-sparse-arrays
      { a: { b: [[1]] } },
      { a: () => 1 },
      { a: 1n },
      { a: Symbol('s') },
      { a: new Map([['k', 1]]) },
      { a: Buffer.from('x') },
      { a: Object.assign(Object.create(null) as object, { b: 1 }) },
      {
        a: new (class Thing {
          b = 1;
        })(),
      },
      JSON.parse('{"a": {"__proto__": {"b": 1}}}') as Record<string, unknown>,
      { a: Object.create({ inherited: 1 }) as object },
    ];
    expect(encodeDocument(plain)).toBe(plain);
    expect(BSON.serialize(encodeDocument(plain))).toEqual(BSON.serialize(encodeCopy(plain)));
    for (const object of escaped) {
      expect(encodeDocument(object)).not.toBe(object);
      expect(bson(encodeDocument(object))).toEqual(bson(encodeCopy(object)));
    }
  });

  describe.each(storeBackends())('round trip through $name', ({ uri }) => {
    let mongo: TestMongo;
    beforeAll(async () => {
      mongo = await testMongo('dockeys', uri);
    });
    afterAll(async () => {
      await mongo.close();
    });

    it('stores and reads back every nasty object unchanged', async () => {
      const col = mongo.db.collection('roundtrip');
      // The raw object is refused (this is why the mapping exists)...
      await expect(col.insertOne({ data: { '@odata.type': 'x' } })).rejects.toThrow();
      // ...and its mapped form is stored and comes back equal.
      await col.insertOne({ _id: 'n' as never, data: encodeDocument(nasty) });
      const back = await col.findOne({ _id: 'n' as never });
      expect(decodeDocument(back!.data as Record<string, unknown>)).toEqual(nasty);
    });
  });
});
