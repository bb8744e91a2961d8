import { describe, expect, it } from 'vitest';
import { compilePowerShellFilter } from '../../../simulators/powershell/ps-filter.js';

const rows = [
  {
    DisplayName: "Ann O'Brien $(whoami)",
    UsageLocation: 'GB',
    FeatureTypes: ['PhoneSystem'],
    AccountEnabled: true,
  },
  { DisplayName: 'Bob', UsageLocation: 'JP', FeatureTypes: [], AccountEnabled: false },
];
const names = (filter: string) => rows.filter(compilePowerShellFilter(filter)).map((r) => r.DisplayName);

describe('the simulated tenant’s -Filter', () => {
  it('applies comparisons, wildcards, -and/-or left to right and -not, ignoring case', () => {
    expect(names("usagelocation -eq 'gb'")).toEqual(["Ann O'Brien $(whoami)"]);
    expect(names("DisplayName -like '*O''Brien $(whoami)*'")).toEqual(["Ann O'Brien $(whoami)"]);
    expect(names("DisplayName -notlike 'A*'")).toEqual(['Bob']);
    expect(names("FeatureTypes -contains 'PhoneSystem'")).toEqual(["Ann O'Brien $(whoami)"]);
    expect(names('AccountEnabled -eq $false')).toEqual(['Bob']);
    expect(names("-not (UsageLocation -eq 'GB') -or DisplayName -eq 'nobody'")).toEqual(['Bob']);
  });
  it('refuses operators and variables a filter cannot hold', () => {
    for (const f of [
      "DisplayName -match 'a'",
      'DisplayName -eq $name',
      "DisplayName -eq 'a' -and",
      "'a' -eq DisplayName",
    ])
      expect(() => compilePowerShellFilter(f), f).toThrow();
  });
});
