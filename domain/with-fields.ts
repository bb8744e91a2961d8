/**
 * `{ ...object, ...fields }`: a copy of `object` with `fields` added, the object itself unchanged.
 * Made with Object.assign, which V8 does several times faster than the spread when fields are added
 * to the copy (a Graph user with its licence view: 3.8–4.0 µs by spread, 0.45–0.48 µs so, CPU per
 * user): the same own properties, in the same order, with the same values. An object with an own
 * `__proto__` key (JSON.parse makes one from `"__proto__"`), which Object.assign would hand to the
 * prototype setter, is spread.
 */
export function withFields<T extends object, F extends object>(object: T, fields: F): T & F {
  if (Object.hasOwn(object, '__proto__') || Object.hasOwn(fields, '__proto__'))
    return { ...object, ...fields };
  return Object.assign(Object.assign({}, object), fields);
}
