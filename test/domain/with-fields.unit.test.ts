import { describe, expect, it } from 'vitest';
import { withFields } from '../../domain/with-fields.js';

/** Everything an object is made of: own keys (symbols too) in order, their descriptors, its prototype. */
function makeup(value: object): unknown {
  return {
    proto: Object.getPrototypeOf(value) as unknown,
    own: Reflect.ownKeys(value).map((key) => [key, Object.getOwnPropertyDescriptor(value, key)]),
  };
}

describe('withFields', () => {
  const tag = Symbol('tag');
  const objects: Record<string, object> = {
    'a plain object': { id: 'u1', displayName: 'Zoë', list: [1] },
    'integer keys': { b: 1, 2: 'two', 1: 'one' },
    'a field it already has': { noEntraMatch: 'old', id: 'x', entraUserId: 'old' },
    'a symbol key': { [tag]: 1, a: 2 },
    'an own __proto__ key': JSON.parse('{"a": 1, "__proto__": {"x": 1}, "b": 2}') as object,
    'a getter': Object.defineProperty({ a: 1 }, 'b', { get: () => 2, enumerable: true }),
    'a non-enumerable property': Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false }),
    'a null prototype': Object.assign(Object.create(null) as object, { a: 1 }),
    'an inherited property': Object.create({ inherited: 1 }) as object,
    'keys named like Object.prototype': { toString: 'x', constructor: 'y', hasOwnProperty: 'z' },
  };
  const fieldSets: object[] = [
    { entraUserId: 'e', noEntraMatch: false },
    { skuPartNumbers: ['MCOEV'], servicePlanNames: [] },
    JSON.parse('{"__proto__": {"y": 1}, "c": 3}') as object,
    {},
  ];

  for (const [name, object] of Object.entries(objects)) {
    it(`gives the spread's object for ${name}, leaving it unchanged`, () => {
      const before = makeup(object);
      for (const fields of fieldSets) {
        const made = withFields(object, fields);
        expect(made).not.toBe(object);
        expect(makeup(made)).toEqual(makeup({ ...object, ...fields }));
      }
      expect(makeup(object)).toEqual(before);
    });
  }
});
