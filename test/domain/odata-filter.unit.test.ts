import { describe, expect, it } from 'vitest';
import {
  GraphUsersFilterSchema,
  MAX_ODATA_FILTER_LENGTH,
  isAdvancedQuery,
  validateGraphUsersFilter,
} from '../../domain/odata-filter.js';

const SKU = '06ebc4ee-1bb5-47dd-8120-11324bc54e06';

function ok(filter: string) {
  const result = validateGraphUsersFilter(filter);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(filter)} to be valid: ${result.reason}`);
  return result;
}

function reason(filter: string): string {
  const result = validateGraphUsersFilter(filter);
  if (result.ok) throw new Error(`expected ${JSON.stringify(filter)} to be refused`);
  return result.reason;
}

describe('valid filters and their canonical form', () => {
  it.each([
    ['accountEnabled eq true', 'accountEnabled eq true'],
    ["  department   EQ 'Sales'  ", "department eq 'Sales'"],
    ["startsWith(displayName, 'Al')", "startswith(displayName,'Al')"],
    ["department in ('Sales', 'HR')", "department in ('Sales','HR')"],
    [`assignedLicenses/any(x:x/skuId eq ${SKU})`, `assignedLicenses/any(x:x/skuId eq ${SKU})`],
    ["proxyAddresses/any(p:startswith(p, 'smtp:'))", "proxyAddresses/any(p:startswith(p,'smtp:'))"],
    ['createdDateTime ge 2024-01-01T00:00:00Z', 'createdDateTime ge 2024-01-01T00:00:00Z'],
    ['createdDateTime le 2024-06-30T23:59:59.123+02:00', 'createdDateTime le 2024-06-30T23:59:59.123+02:00'],
    ['createdDateTime ge 2024-01-01', 'createdDateTime ge 2024-01-01'],
    ["surname eq 'O''Brien'", "surname eq 'O''Brien'"],
    ['a eq 1 and (b eq 2 or c eq 3)', 'a eq 1 and (b eq 2 or c eq 3)'],
    ['(a eq 1 and b eq 2) or c eq 3', 'a eq 1 and b eq 2 or c eq 3'],
    ['((a eq 1))', 'a eq 1'],
    ["NOT(companyName eq 'Microsoft')", "not (companyName eq 'Microsoft')"],
    ['not accountEnabled eq true', 'not (accountEnabled eq true)'],
    ["NOT startsWith(displayName, 'Conf')", "not startswith(displayName,'Conf')"],
    ['assignedLicenses/$count eq 0', 'assignedLicenses/$count eq 0'],
    [
      "onPremisesExtensionAttributes/extensionAttribute1 eq 'x'",
      "onPremisesExtensionAttributes/extensionAttribute1 eq 'x'",
    ],
    ["Department eq 'Sales'", "Department eq 'Sales'"],
    ['employeeId eq -5.5e3', 'employeeId eq -5.5e3'],
    ['companyName ne null', 'companyName ne null'],
    ["mail eq 'x' OR mail eq 'y' Or mail eq 'z'", "mail eq 'x' or mail eq 'y' or mail eq 'z'"],
    ['assignedLicenses/any()', 'assignedLicenses/any()'],
    [
      "identities/any(c:c/issuerAssignedId eq 'j' and c/issuer eq 'contoso.com')",
      "identities/any(c:c/issuerAssignedId eq 'j' and c/issuer eq 'contoso.com')",
    ],
    ['not not accountEnabled eq false', 'not not (accountEnabled eq false)'],
    [
      "userType eq 'Member' and (a eq 1 or not (b eq 2 and c eq 3))",
      "userType eq 'Member' and (a eq 1 or not (b eq 2 and c eq 3))",
    ],
  ])('%s → %s', (filter, normalised) => {
    expect(ok(filter).normalised).toBe(normalised);
  });

  it('normalises to a fixed point: the canonical form parses to itself', () => {
    const filters = [
      "a eq 1 and (b eq 2 or not (c eq 'it''s'))",
      `assignedLicenses/any(x:x/skuId eq ${SKU}) and not proxyAddresses/any(p:endswith(p,'@x.com'))`,
      "(a eq 1 or b eq 2) and (c in ('x','y') or d ge 2024-01-01T00:00:00Z)",
    ];
    for (const filter of filters) {
      const once = ok(filter).normalised;
      expect(ok(once).normalised).toBe(once);
    }
  });

  it('keeps a text value exactly, whatever it contains', () => {
    const tricky = "x' or 1 eq 1 or a eq 'y $() \" ; ` {}";
    const result = ok(`displayName eq '${tricky.replace(/'/g, "''")}'`);
    expect(result.normalised).toBe(`displayName eq '${tricky.replace(/'/g, "''")}'`);
  });

  it('accepts a filter of the maximum length and refuses a longer one', () => {
    const clause = "department eq 'Sales'";
    let filter = clause;
    while (filter.length + 5 + clause.length <= MAX_ODATA_FILTER_LENGTH) filter += ` or ${clause}`;
    expect(validateGraphUsersFilter(filter).ok).toBe(true);
    expect(reason(filter + ' or ' + clause)).toMatch(/at most 2048/);
  });
});

describe('refused filters, with the reason and where', () => {
  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ["department eq 'Sales", /text value is not closed.*position 15/],
    ['department eq "Sales"', /single quotes.*position 15/],
    ["department = 'Sales'", /unexpected "=" at position 12/],
    ['department eq', /expected a value .* at the end of the filter/],
    [
      "department 'Sales'",
      /expected an operator after "department" \(eq, ne, gt, ge, lt, le, in\), found 'Sales' at position 12/,
    ],
    ["department like 'S*'", /expected an operator after "department".*found "like"/],
    ['department eq Sales', /"Sales" is not a value/],
    ["(department eq 'Sales'", /expected a closing "\)", found the end of the filter at the end/],
    ["department eq 'Sales')", /a "\)" without its "\("/],
    [
      "department eq 'Sales' department eq 'HR'",
      /expected "and", "or" or the end of the filter, found "department" at position 23/,
    ],
    ["contains(displayName,'x')", /does not support contains\(\) on users/],
    ["substringof('x',displayName)", /does not support substringof\(\)/],
    ["lower(displayName) eq 'x'", /unknown function "lower" \(supported: startswith, endswith\)/],
    ['startswith(displayName,1)', /a text value in single quotes for startswith\(\)/],
    ["startswith(displayName 'x')", /expected "," and the text startswith\(\) looks for/],
    ["startswith(displayName,'x') eq true", /already a condition/],
    ['(a eq 1) eq true', /cannot be compared/],
    ["department in 'Sales'", /"\(" and a list of values after "in"/],
    ["department in ('Sales' 'HR')", /"," or "\)" in the list of values/],
    ['department in ()', /expected a value/],
    ['a eq 1 and', /expected a property name, found the end of the filter/],
    ['and a eq 1', /expected a property name, found "and"/],
    ['assignedLicenses/any(x x/skuId eq 1)', /":" after the variable "x"/],
    ['assignedLicenses/any(eq:eq eq 1)', /a variable name/],
    ['$filter eq 1', /"\$filter" cannot start a property path/],
    ['a/$value eq 1', /only \$count is/],
    ['a/$count/b eq 1', /nothing may follow "\$count"/],
    ['a eq 2024-13-01', /not a valid date/],
    ['a eq 2024-01-01T25:00:00Z', /not a valid date/],
    ['a eq 1;', /unexpected ";"/],
    ['a eq 1\u0000', /control character \(U\+0000\)/],
    ["startswith($count,'x')", /cannot start a property path/],
    ["startswith(a/$count,'x')", /takes a text property, not a \$count/],
    ['displayName eq givenName', /"givenName" is not a value/],
  ])('%j', (filter, expected) => {
    expect(reason(filter)).toMatch(expected);
  });

  it('refuses very deep nesting instead of overflowing the stack', () => {
    const deep = `${'('.repeat(40)}a eq 1${')'.repeat(40)}`;
    expect(reason(deep)).toMatch(/nests deeper than 32 levels/);
    const shallow = `${'('.repeat(20)}a eq 1${')'.repeat(20)}`;
    expect(ok(shallow).normalised).toBe('a eq 1');
    expect(reason('not '.repeat(40) + 'a eq 1')).toMatch(/nests deeper/);
  });

  it('accepts generated filters, normalises them to a fixed point, and never throws on mutations', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const values = ["'Sales'", "'it''s'", '42', '-1.5', 'true', 'null', SKU, '2024-01-01T00:00:00Z'];
    const gen = (depth: number): string => {
      const r = random();
      if (depth > 3 || r < 0.35)
        return `${pick(['department', 'mail', 'a/b'])} ${pick(['eq', 'ne', 'ge', 'LT'])} ${pick(values)}`;
      if (r < 0.45) return `department in (${pick(values)},${pick(values)})`;
      if (r < 0.55) return `${pick(['startswith', 'endsWith'])}(${pick(['mail', 'displayName'])}, 'x')`;
      if (r < 0.62) return `proxyAddresses/any(p:${pick(["startswith(p,'smtp:')", "p eq 'x'"])})`;
      if (r < 0.7) return `not ${gen(depth + 1)}`;
      if (r < 0.8) return `(${gen(depth + 1)})`;
      return `${gen(depth + 1)} ${pick(['and', 'or', 'AND'])} ${gen(depth + 1)}`;
    };
    let valid = 0;
    for (let n = 0; n < 500; n++) {
      const filter = gen(0);
      const result = ok(filter);
      valid++;
      expect(ok(result.normalised)).toMatchObject({
        normalised: result.normalised,
        advanced: result.advanced,
      });
      // A mutated filter is either valid (and normalises stably) or refused with a reason; never a throw.
      const at = Math.floor(random() * filter.length);
      const mutated =
        filter.slice(0, at) + pick(["'", '(', ')', ' ', '/', ',', '', 'x', '$']) + filter.slice(at + 1);
      const m = validateGraphUsersFilter(mutated);
      if (m.ok) expect(ok(m.normalised).normalised).toBe(m.normalised);
      else expect(m.reason).toMatch(/\S/);
    }
    expect(valid).toBe(500);
  });
});

describe('advanced queries (ConsistencyLevel: eventual and $count=true)', () => {
  it.each([
    'accountEnabled eq true',
    "department eq 'Sales'",
    "startswith(displayName,'Al')",
    "department in ('Sales','HR')",
    `assignedLicenses/any(x:x/skuId eq ${SKU})`,
    "proxyAddresses/any(p:startswith(p,'smtp:'))",
    'createdDateTime ge 2024-01-01T00:00:00Z',
    "userType eq 'Member' and usageLocation eq 'GB'",
    "mail eq 'a@b.c' or userPrincipalName in ('a@b.c')",
  ])('not needed: %s', (filter) => {
    expect(ok(filter)).toMatchObject({ advanced: false, advancedReasons: [] });
    expect(isAdvancedQuery(filter)).toBe(false);
  });

  it.each([
    ['accountEnabled ne true', 'ne'],
    ["not (department eq 'Sales')", 'not'],
    ["endswith(mail,'@contoso.com')", 'endswith'],
    ["proxyAddresses/any(p:endswith(p,'onmicrosoft.com'))", 'endswith'],
    ['assignedLicenses/$count eq 0', '$count in a filter (assignedLicenses/$count)'],
    ["companyName eq 'Contoso'", 'eq on companyName'],
    ["startswith(mobilePhone,'+44')", 'startswith on mobilePhone'],
    ['department eq null', 'comparing department with null'],
    ['createdDateTime in (2024-01-01T00:00:00Z)', 'in on createdDateTime'],
    ['accountEnabled ge true', 'ge on accountEnabled'],
    ["onPremisesExtensionAttributes/extensionAttribute1 eq 'x'", 'eq on onPremisesExtensionAttributes'],
    [
      "extension_abc_costCentre eq '42'",
      'extension_abc_costCentre is not a property m365sync knows to filter by default',
    ],
    ['createdDateTime gt 2024-01-01', 'gt on createdDateTime'],
    ['assignedLicenses/all(x:x/skuId eq ' + SKU + ')', 'all(…) on a collection'],
    ['assignedLicenses/any()', 'assignedLicenses/any() without a condition'],
  ])('needed: %s (%s)', (filter, why) => {
    const result = ok(filter);
    expect(result.advanced).toBe(true);
    expect(result.advancedReasons).toContain(why);
  });

  it('is advanced when any part of the filter is', () => {
    expect(ok("department eq 'Sales' and (accountEnabled eq true or mail ne 'x')").advanced).toBe(true);
  });

  it('looks properties up without regard to case', () => {
    expect(ok("Department eq 'Sales'").advanced).toBe(false);
  });

  it('says an invalid filter is not advanced', () => {
    expect(isAdvancedQuery('nonsense')).toBe(false);
  });
});

describe('GraphUsersFilterSchema', () => {
  it('stores the canonical form and refuses an invalid filter with the reason', () => {
    expect(GraphUsersFilterSchema.parse("department EQ 'Sales'")).toBe("department eq 'Sales'");
    const bad = GraphUsersFilterSchema.safeParse("department = 'Sales'");
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/^is not a valid Graph users filter: unexpected "="/);
    expect(GraphUsersFilterSchema.safeParse(42).success).toBe(false);
  });
});
