/**
 * The tenant filters' parsers (Graph users $filter, Teams users and Exchange mailbox -Filter) on
 * arbitrary text up to a few KB: they never throw, answer ok or a reason naming what is wrong, keep
 * their canonical form stable (a normalised filter parses to itself), and stay within a CPU budget per
 * input (generous: a linear parse of 4 KB takes well under a millisecond; a runaway one does not).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateGraphUsersFilter } from '../../domain/odata-filter.js';
import { validatePowerShellFilter } from '../../domain/powershell-filter.js';
import { cpuMs, fuzz, tokenSoup } from './support/fuzzing.js';

/** Per input, in CPU milliseconds. */
const CPU_BUDGET_MS = 50;

const odataTokens = [
  'accountEnabled',
  'displayName',
  'userType',
  'assignedLicenses',
  'proxyAddresses',
  'companyName',
  'eq',
  'ne',
  'gt',
  'lt',
  'ge',
  'le',
  'and',
  'or',
  'not',
  'in',
  'startswith',
  'endswith',
  'any',
  'all',
  '(',
  ')',
  ',',
  ':',
  '/',
  "'",
  "''",
  'true',
  'false',
  'null',
  '42',
  '-1.5e3',
  'x',
  'a/b',
  "'Member'",
  '2024-01-01T00:00:00Z',
  '6f1e0f60-7f1a-4c2b-9d7e-1a2b3c4d5e6f',
  's:s/skuId eq ',
];
const psTokens = [
  'Department',
  'UsageLocation',
  'RecipientTypeDetails',
  'CustomAttribute1',
  'Name',
  'EnterpriseVoiceEnabled',
  '-eq',
  '-ne',
  '-like',
  '-notlike',
  '-lt',
  '-gt',
  '-and',
  '-or',
  '-not',
  '-match',
  '(',
  ')',
  '{',
  '}',
  "'",
  "''",
  '"',
  '`',
  '$true',
  '$false',
  '$null',
  '$(',
  '@(',
  ';',
  '|',
  '*',
  "'Sales*'",
  '10',
  ' ',
];

/** Filters built from the grammar (mostly valid), so the canonical form gets exercised too. */
const quoted = fc.string({ maxLength: 12 }).map((v) => `'${v.replace(/'/g, "''")}'`);
const odataGrammar = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom('displayName', 'userType', 'companyName', 'department', 'city'),
        fc.constantFrom('eq', 'ne'),
        quoted,
      )
      .map(([p, o, v]) => `${p} ${o} ${v}`),
    fc
      .tuple(fc.constantFrom('startswith', 'endswith'), fc.constantFrom('displayName', 'mail'), quoted)
      .map(([f, p, v]) => `${f}(${p}, ${v})`),
    fc.constantFrom(
      'accountEnabled eq true',
      'assignedLicenses/any(x:x/skuId eq 6f1e0f60-7f1a-4c2b-9d7e-1a2b3c4d5e6f)',
    ),
    fc.tuple(tie('f'), fc.constantFrom(' and ', ' or ', '  AND  '), tie('f')).map(([a, o, b]) => a + o + b),
    tie('f').map((f) => `(${f})`),
    tie('f').map((f) => `not (${f})`),
  ),
})).f;
const psGrammar = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom('Department', 'UsageLocation', 'Name', 'CustomAttribute1', 'RecipientTypeDetails'),
        fc.constantFrom('-eq', '-ne', '-like', '-notlike', '-EQ'),
        quoted,
      )
      .map(([p, o, v]) => `${p} ${o} ${v}`),
    fc.tuple(tie('f'), fc.constantFrom(' -and ', ' -or '), tie('f')).map(([a, o, b]) => a + o + b),
    tie('f').map((f) => `(${f})`),
    tie('f').map((f) => `-not (${f})`),
  ),
})).f;

const inputs = (tokens: readonly string[]) =>
  fc.oneof(
    tokens === odataTokens ? odataGrammar : psGrammar,
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    tokenSoup(tokens),
    // Deep nesting and long runs, up to a few KB.
    fc
      .tuple(fc.nat({ max: 2000 }), tokenSoup(tokens, 20))
      .map(([n, inner]) => '('.repeat(n) + inner + ')'.repeat(n)),
    fc
      .tuple(fc.constantFrom('not ', '-not ', "'", 'a eq 1 and ', '(', 'x'), fc.nat({ max: 1500 }))
      .map(([t, n]) => t.repeat(n)),
  );

function checkResult(result: { ok: boolean; reason?: string; normalised?: string }): void {
  if (result.ok) expect(typeof result.normalised).toBe('string');
  else expect(result.reason).toMatch(/\S/);
}

describe('filter parsers under fuzzing', () => {
  it('Graph users $filter: never throws, stable canonical form, within the CPU budget', () => {
    fc.assert(
      fc.property(inputs(odataTokens), (filter) => {
        const { value: result, ms } = cpuMs(() => validateGraphUsersFilter(filter));
        expect(ms).toBeLessThan(CPU_BUDGET_MS);
        checkResult(result);
        if (result.ok) {
          const again = validateGraphUsersFilter(result.normalised);
          expect(again).toMatchObject({ ok: true, normalised: result.normalised, advanced: result.advanced });
        }
      }),
      fuzz(1500),
    );
  });

  it.each(['teams', 'exchange'] as const)(
    '%s -Filter: never throws, stable canonical form, within the CPU budget',
    (dialect) => {
      fc.assert(
        fc.property(inputs(psTokens), (filter) => {
          const { value: result, ms } = cpuMs(() => validatePowerShellFilter(filter, dialect));
          expect(ms).toBeLessThan(CPU_BUDGET_MS);
          checkResult(result);
          if (result.ok) {
            expect(validatePowerShellFilter(result.normalised, dialect)).toMatchObject({
              ok: true,
              normalised: result.normalised,
            });
          }
        }),
        fuzz(1500),
      );
    },
  );
});
