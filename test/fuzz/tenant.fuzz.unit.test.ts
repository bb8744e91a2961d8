/**
 * Tenant validation under fuzzing, with inputs as an API body or a YAML file can carry them (any JSON):
 * it returns a tenant or throws a ValidationError whose problems each name a field, and never shows a
 * secret in its message, whatever else is wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.js';
import { TENANT_FIELDS, TENANT_GROUPS } from '../../domain/tenant-fields.js';
import { validateTenant, type TenantInput } from '../../domain/tenant.js';
import { validTenantInput } from '../support/fixtures.js';
import { fuzz } from './support/fuzzing.js';

const SECRET_FIELDS = new Set(TENANT_FIELDS.filter((f) => f.password).map((f) => `${f.group}.${f.name}`));

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    'true',
    'no',
    '0',
    '-1',
    '1e3',
    '999999999999',
    'NaN',
    'a.b',
    '..',
    'x'.repeat(3000),
  ),
);

/** A valid tenant with some fields replaced, some removed, and some keys that do not belong. */
const mutatedTenant = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...TENANT_FIELDS), fc.oneof(anyValue, fc.constant(undefined))), {
      maxLength: 6,
    }),
    fc.array(
      fc.tuple(fc.constantFrom(...TENANT_GROUPS, 'hierarchy', '__proto__', 'constructor', 'Nope'), anyValue),
      {
        maxLength: 2,
      },
    ),
    fc.array(fc.string({ minLength: 8, maxLength: 20 }), { minLength: 4, maxLength: 4 }),
  )
  .map(([changes, extra, secrets]) => {
    const input = validTenantInput() as Record<string, Record<string, unknown>>;
    // Distinctive secret values, so a leak into a message is unmistakable.
    const s = secrets.map((v, i) => `S3CR3T${i}-${v}`);
    input['Microsoft Teams Powershell']!.proxyPassword = s[0];
    input['Microsoft Teams']!.tenantPassword = s[1];
    input['Microsoft 365']!.client_secret = s[2];
    for (const [field, value] of changes) {
      if (SECRET_FIELDS.has(`${field.group}.${field.name}`) && typeof value === 'string') continue;
      input[field.group] = { ...input[field.group], [field.name]: value };
    }
    for (const [key, value] of extra) (input as Record<string, unknown>)[key] = value;
    // As it arrives over HTTP or from YAML: plain JSON.
    const json = JSON.stringify(input);
    return { input: JSON.parse(json) as TenantInput, secrets: s.slice(0, 3) };
  });

function check(input: unknown, secrets: readonly string[] = []): void {
  let error: unknown;
  try {
    validateTenant(input as TenantInput);
  } catch (e) {
    error = e;
  }
  if (error === undefined) return;
  expect(error).toBeInstanceOf(ValidationError);
  const v = error as ValidationError;
  expect(v.problems.length).toBeGreaterThan(0);
  for (const p of v.problems) {
    expect(p.field).toMatch(/\S/);
    expect(p.message).toMatch(/\S/);
  }
  const shown = `${v.message}\n${JSON.stringify(v.problems)}`;
  for (const secret of secrets) expect(shown).not.toContain(secret);
}

describe('tenant validation under fuzzing', () => {
  it('answers a tenant or a ValidationError naming fields, never showing a secret', () => {
    fc.assert(
      fc.property(mutatedTenant, ({ input, secrets }) => check(input, secrets)),
      fuzz(1500),
    );
  });

  it('answers a ValidationError for any JSON that is not a tenant (arrays, strings, null, numbers)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (input) => check(input)),
      // Found by this property (a TypeError, a blank field name): always tried first.
      { ...fuzz(800), examples: [[null], [[]], ['tenant'], [3], [{ '': 1 }]] },
    );
  });
});
