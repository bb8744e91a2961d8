/** Query-string parameters of the operator API, read one value at a time. */
import { ValidationError } from '../domain/errors.js';

/**
 * One value of a query parameter: `?hierarchy=a&hierarchy=b` is a clear 400, not a crash further
 * in. With `pattern`, the value must match it.
 */
export function queryValue(
  query: unknown,
  name: string,
  pattern?: { test: RegExp; says: string },
): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new ValidationError('Query', [{ field: name, message: 'give it once, as one value' }]);
  if (pattern && !pattern.test.test(value))
    throw new ValidationError('Query', [{ field: name, message: pattern.says }]);
  return value;
}
