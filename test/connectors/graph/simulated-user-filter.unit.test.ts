import { describe, expect, it } from 'vitest';
import { compileUserFilter } from '../../../simulators/graph/user-filter.js';

const users = [
  {
    id: 'a',
    displayName: 'Ann',
    department: 'Sales',
    accountEnabled: true,
    assignedLicenses: [{ skuId: '06ebc4ee-1bb5-47dd-8120-11324bc54e06' }],
  },
  { id: 'b', displayName: "Bob O'Brien", department: 'Legal', accountEnabled: false, assignedLicenses: [] },
  { id: 'c', displayName: 'Cy', department: null, accountEnabled: true, assignedLicenses: [] },
];
const ids = (filter: string) => {
  const compiled = compileUserFilter(filter);
  if (!compiled.ok) throw new Error(compiled.message);
  return users.filter(compiled.test).map((u) => u.id);
};

describe('the Graph simulator’s users $filter', () => {
  it('applies eq, startswith, not/and/or, any() on licences, ignoring case', () => {
    expect(ids("department eq 'sales'")).toEqual(['a']);
    expect(ids("startswith(displayName,'bob')")).toEqual(['b']);
    expect(ids("displayName eq 'Bob O''Brien'")).toEqual(['b']);
    expect(ids('accountEnabled eq true and not (department eq null)')).toEqual(['a']);
    expect(ids("department eq 'Legal' or department eq null")).toEqual(['b', 'c']);
    expect(ids('assignedLicenses/any(x:x/skuId eq 06ebc4ee-1bb5-47dd-8120-11324bc54e06)')).toEqual(['a']);
  });
  it('marks advanced queries (ne, not, endswith, null) as Graph does', () => {
    expect(compileUserFilter("department eq 'Sales'")).toMatchObject({ ok: true, advanced: false });
    for (const f of [
      "department ne 'Sales'",
      "not (department eq 'Sales')",
      "endswith(mail,'.com')",
      'department eq null',
    ])
      expect(compileUserFilter(f), f).toMatchObject({ ok: true, advanced: true });
  });
  it('refuses what it does not support', () => {
    for (const f of [
      "contains(displayName,'a')",
      "officeLocation eq 'x'",
      "department gt 'a'",
      "department eq 'a' and",
      '(department eq 1',
    ])
      expect(compileUserFilter(f).ok, f).toBe(false);
  });
});
