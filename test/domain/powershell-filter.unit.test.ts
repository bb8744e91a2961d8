import { describe, expect, it } from 'vitest';
import {
  ExchangeMailboxFilterSchema,
  MAX_POWERSHELL_FILTER_LENGTH,
  TeamsUsersFilterSchema,
  validateExchangeMailboxFilter,
  validatePowerShellFilter,
  validateTeamsUsersFilter,
  type PowerShellFilterDialect,
} from '../../domain/powershell-filter.js';
import { psLiteral } from '../../connectors/powershell/ps-quote.js';

function ok(filter: string, dialect: PowerShellFilterDialect = 'teams') {
  const result = validatePowerShellFilter(filter, dialect);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(filter)} to be valid: ${result.reason}`);
  return result;
}

function reason(filter: string, dialect: PowerShellFilterDialect = 'teams'): string {
  const result = validatePowerShellFilter(filter, dialect);
  if (result.ok) throw new Error(`expected ${JSON.stringify(filter)} to be refused`);
  return result.reason;
}

describe('valid filters and their canonical form', () => {
  it.each([
    ['EnterpriseVoiceEnabled -eq $True', 'EnterpriseVoiceEnabled -eq $true'],
    ["Department   -EQ   'Sales'", "Department -eq 'Sales'"],
    ['AssignedPlan -like "*MCO*"', "AssignedPlan -like '*MCO*'"],
    ["FeatureTypes -Contains 'PhoneSystem'", "FeatureTypes -contains 'PhoneSystem'"],
    ['LineUri -like *123*', 'LineUri -like *123*'],
    ['UserPrincipalName -eq someone@contoso.com', 'UserPrincipalName -eq someone@contoso.com'],
    ['SoftDeletionTimestamp -eq $null', 'SoftDeletionTimestamp -eq $null'],
    [
      "AccountType -ne 'IneligibleUser' -and AccountEnabled -eq $true",
      "AccountType -ne 'IneligibleUser' -and AccountEnabled -eq $true",
    ],
    [
      `UserPrincipalName -like "test*" -and (AssignedPlans -eq "MCOEV" -or AssignedPlans -like "MCOPSTN*")`,
      `UserPrincipalName -like 'test*' -and (AssignedPlans -eq 'MCOEV' -or AssignedPlans -like 'MCOPSTN*')`,
    ],
    ['WhenChanged -gt "1/25/2022 11:59:59 PM"', "WhenChanged -gt '1/25/2022 11:59:59 PM'"],
    ["DisplayName -eq 'O''Brien'", "DisplayName -eq 'O''Brien'"],
    ['DisplayName -eq "say ""hi"""', `DisplayName -eq 'say "hi"'`],
    ['DisplayName -eq "it\'s"', "DisplayName -eq 'it''s'"],
    ["TeamsMeetingBroadcastPolicy -eq ' '", "TeamsMeetingBroadcastPolicy -eq ' '"],
    [
      "Department -eq 'A' -or Department -eq 'B' -and City -eq 'C'",
      "Department -eq 'A' -or Department -eq 'B' -and City -eq 'C'",
    ],
    ["((Department -eq 'A'))", "((Department -eq 'A'))"],
    ['Company -ge -5', 'Company -ge -5'],
  ])('%s → %s', (filter, normalised) => {
    expect(ok(filter).normalised).toBe(normalised);
  });

  it('keeps $(…), backticks, braces and semicolons inside a single-quoted value as literal text', () => {
    const result = ok("DisplayName -like '*$(Remove-Item C:\\ -Recurse); `whoami` {x}*'");
    expect(result.normalised).toBe("DisplayName -like '*$(Remove-Item C:\\ -Recurse); `whoami` {x}*'");
    // The engine passes the filter as one PowerShell single-quoted literal: nothing in it is code.
    expect(psLiteral(result.normalised)).toBe(
      "'DisplayName -like ''*$(Remove-Item C:\\ -Recurse); `whoami` {x}*'''",
    );
  });

  it('normalises to a fixed point', () => {
    for (const filter of [
      'A -eq "x" -and -not (B -like \'y*\') -or (C -ne $false)',
      "DisplayName -eq 'it''s' -or Department -like \"R&D*\"",
    ]) {
      const once = ok(filter, 'exchange').normalised;
      expect(ok(once, 'exchange').normalised).toBe(once);
    }
  });

  it('accepts a filter of the maximum length and refuses a longer one', () => {
    const clause = "Department -eq 'Sales'";
    let filter = clause;
    while (filter.length + 5 + clause.length <= MAX_POWERSHELL_FILTER_LENGTH) filter += ` -or ${clause}`;
    expect(validateTeamsUsersFilter(filter).ok).toBe(true);
    expect(reason(`${filter} -or ${clause}`)).toMatch(/at most 2048/);
  });
});

describe('what is refused, with the reason and where', () => {
  it.each([
    ['', /empty/],
    [
      'DisplayName -eq $name',
      /variables are not allowed in a filter \("\$name"\); the only \$ values are \$true, \$false and \$null at position 17/,
    ],
    ['DisplayName -eq $(whoami)', /sub-expressions \$\(…\) are not allowed/],
    ['DisplayName -eq $env:USERNAME', /variables are not allowed/],
    ['DisplayName -eq "$(whoami)"', /double-quoted value may not contain "\$".*single quotes at position 18/],
    ['DisplayName -eq "a`"b"', /may not contain a backtick/],
    ["{DisplayName -eq 'x'}", /script blocks \{ \} are not allowed: write the filter without the braces/],
    ["DisplayName -eq 'x' `", /backtick escapes are not allowed/],
    ["DisplayName -eq 'x'; Remove-Item C:\\", /unexpected ";"/],
    ["DisplayName -eq 'x' | Out-Host", /unexpected "\|"/],
    ["DisplayName -eq 'x' & calc", /unexpected "&"/],
    ["DisplayName -eq @('x')", /unexpected "@" at position 17/],
    ['DisplayName -eq \u2018x\u2019', /typographic quote "\u2018" is not allowed/],
    ['DisplayName -eq \u201Cx\u201D', /typographic quote/],
    // Inside a quoted value PowerShell's tokenizer still reads them as quotes: the value would end early.
    [
      "DisplayName -eq 'O\u2019Brien'",
      /typographic quote "\u2019" is not allowed inside a value.*at position 19/,
    ],
    [
      "DisplayName -eq 'a\u2018' -or Department -eq 'b'",
      /typographic quote "\u2018" is not allowed inside a value/,
    ],
    ["DisplayName -eq 'a\u201A\u201B'", /typographic quote "\u201A"/],
    ['DisplayName -eq "say \u201Chi\u201D"', /typographic quote "\u201C" is not allowed inside a value/],
    ['DisplayName -eq "x\u201E"', /typographic quote "\u201E"/],
    ["DisplayName -eq 'x'\nDepartment -eq 'y'", /line breaks are not allowed/],
    ["DisplayName -eq 'x", /a value is not closed: add the missing '/],
    ['DisplayName -eq "x', /a value is not closed: add the missing "/],
    ["DisplayName -match 'x'", /"-match" is not an operator Get-CsOnlineUser filter takes \(-eq, -ne, -like/],
    ["DisplayName 'x'", /expected an operator after DisplayName/],
    ["DisplayName -and 'x'", /expected an operator after DisplayName/],
    ['DisplayName -eq', /expected a value .* at the end of the filter/],
    ['DisplayName -eq -and', /expected a value/],
    ["'x' -eq DisplayName", /expected a property name, found 'x'/],
    ["Display.Name -eq 'x'", /"Display.Name" is not a property name/],
    ["Display_Name -eq 'x'", /"Display_Name" is not a property name/],
    [
      "DisplayName -eq 'x' Department -eq 'y'",
      /expected -and, -or or the end of the filter, found "Department"/,
    ],
    ["(DisplayName -eq 'x'", /expected a closing "\)"/],
    ["DisplayName -eq 'x')", /a "\)" without its "\("/],
    ["-not DisplayName -eq 'x'", /write -not \(Property -op value\)/],
    ["DisplayName -eq 'x' -and", /expected a property name, found the end of the filter/],
    ["DisplayName - eq 'x'", /a "-" must start an operator/],
    ["DisplayName -eq 'x' # comment", /unexpected "#"/],
    ['DisplayName -eq [char]65', /unexpected "\["/],
    ["DisplayName -eq 'x'\u0007", /control character \(U\+0007\)/],
  ])('%j', (filter, expected) => {
    expect(reason(filter)).toMatch(expected);
  });

  it('refuses operators Exchange does not take', () => {
    expect(reason("EmailAddresses -contains 'smtp:a@b.c'", 'exchange')).toMatch(
      /"-contains" is not an operator an Exchange \(OPATH\) filter takes \(-eq, -ne, -like, -notlike, -lt, -gt, -le, -ge\)/,
    );
  });

  it('refuses very deep nesting instead of overflowing the stack', () => {
    expect(reason(`${'('.repeat(40)}A -eq 1${')'.repeat(40)}`)).toMatch(/nests deeper than 32/);
    expect(ok(`${'('.repeat(10)}Department -eq 1${')'.repeat(10)}`).ok).toBe(true);
  });

  it('accepts generated filters, normalises them to a fixed point, and never throws on mutations', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const values = ["'Sales'", '"R&D"', "'it''s'", "'$(x)'", '$true', '$NULL', '42', '*abc*'];
    const gen = (depth: number): string => {
      const r = random();
      if (depth > 3 || r < 0.45) {
        return `${pick(['Department', 'DisplayName', 'City'])} ${pick(['-eq', '-NE', '-like', '-notlike', '-gt'])} ${pick(values)}`;
      }
      if (r < 0.55) return `-not (${gen(depth + 1)})`;
      if (r < 0.7) return `(${gen(depth + 1)})`;
      return `${gen(depth + 1)} ${pick(['-and', '-or', '-AND'])} ${gen(depth + 1)}`;
    };
    for (let n = 0; n < 500; n++) {
      const filter = gen(0);
      for (const dialect of ['teams', 'exchange'] as const) {
        const result = ok(filter, dialect);
        expect(ok(result.normalised, dialect).normalised).toBe(result.normalised);
      }
      const at = Math.floor(random() * filter.length);
      const mutated =
        filter.slice(0, at) +
        pick(["'", '"', '(', ')', ' ', '$', '{', '`', '-', ';', '']) +
        filter.slice(at + 1);
      const m = validatePowerShellFilter(mutated, 'exchange');
      if (m.ok) expect(ok(m.normalised, 'exchange').normalised).toBe(m.normalised);
      else expect(m.reason).toMatch(/\S/);
    }
  });
});

describe('warnings (lenient where unsure)', () => {
  it('warns about a Teams attribute not known to be filterable, and about -not, without refusing', () => {
    const result = ok("HideFromAddressLists -eq $true -and -not (Department -eq 'x')");
    expect(result.warnings).toEqual([
      'HideFromAddressLists is not among the attributes Get-CsOnlineUser is documented to filter on; the sync may fail if it is not filterable',
      'Get-CsOnlineUser dropped -not in Teams module 3.0; prefer -ne or -notlike',
    ]);
  });

  it('knows Teams attributes regardless of case and does not warn for Exchange', () => {
    expect(ok("lineuri -like 'tel:+44*'").warnings).toEqual([]);
    expect(
      ok("CustomAttribute1 -eq 'x' -and -not (RecipientTypeDetails -eq 'RoomMailbox')", 'exchange').warnings,
    ).toEqual([]);
  });
});

describe('dialect helpers and schemas', () => {
  it('validate per cmdlet', () => {
    expect(validateTeamsUsersFilter("FeatureTypes -contains 'PhoneSystem'").ok).toBe(true);
    expect(validateExchangeMailboxFilter("FeatureTypes -contains 'PhoneSystem'").ok).toBe(false);
  });

  it('store the canonical form and refuse with the reason', () => {
    expect(TeamsUsersFilterSchema.parse('Department -EQ "Sales"')).toBe("Department -eq 'Sales'");
    expect(ExchangeMailboxFilterSchema.parse("RecipientTypeDetails -eq 'UserMailbox'")).toBe(
      "RecipientTypeDetails -eq 'UserMailbox'",
    );
    const bad = ExchangeMailboxFilterSchema.safeParse('Name -eq $(whoami)');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/^is not a valid Exchange mailbox filter: sub-expressions/);
  });
});
