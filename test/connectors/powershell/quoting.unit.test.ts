import { describe, expect, it } from 'vitest';
import { psGuid, psLiteral, psLiteralArray, psThumbprint } from '../../../connectors/powershell/ps-quote.js';
import { buildExchangePullScript } from '../../../connectors/powershell/exchange-script.js';
import { buildTeamsPullScript, buildTeamsTestScript } from '../../../connectors/powershell/teams-script.js';
import { readSingleQuoted, tokenize } from '../../../simulators/powershell/ps-parser.js';
import { prng } from '../../../simulators/dataset.js';
import { NASTY, tenantFor } from './support/tenant-host.js';

const ALPHABET = [
  "'",
  '\u2018',
  '\u2019',
  '\u201A',
  '\u201B',
  '"',
  '`',
  '$',
  '(',
  ')',
  ';',
  '\n',
  '\r',
  '#',
  '|',
  '&',
  'ä',
  '日',
  '😀',
  'a',
  'Z',
  ' ',
  '{',
  '}',
  '@',
  '\u201C',
  '-',
];

function randomNasty(random: () => number): string {
  const length = Math.floor(random() * 24);
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return s;
}

/** What PowerShell reads back from a literal: parsed by the simulator's independent tokenizer. */
function readBack(literal: string): string {
  const tokens = tokenize(literal);
  expect(tokens).toHaveLength(1);
  const token = tokens[0]!;
  if (token.t !== 'str') throw new Error(`not a string: ${token.t}`);
  expect(token.expandable).toBe(false);
  return token.value;
}

describe('psLiteral', () => {
  it('round-trips every nasty value through a PowerShell tokenizer as one non-expanding string', () => {
    for (const value of NASTY) expect(readBack(psLiteral(value))).toBe(value);
  });

  it('round-trips 2,000 random strings built from quote, escape and separator characters', () => {
    const random = prng(42);
    for (let i = 0; i < 2000; i++) {
      const value = randomNasty(random);
      const literal = psLiteral(value);
      expect(readBack(literal)).toBe(value);
      // The literal ends exactly where it should: nothing of the value leaks past the closing quote.
      expect(readSingleQuoted(literal, 0).end).toBe(literal.length);
    }
  });

  it('doubles each of the four characters PowerShell treats as a single quote', () => {
    expect(psLiteral("a'b")).toBe("'a''b'");
    expect(psLiteral('a\u2019b')).toBe("'a\u2019\u2019b'");
    expect(psLiteral('\u2018\u201A\u201B')).toBe("'\u2018\u2018\u201A\u201A\u201B\u201B'");
    expect(psLiteralArray(['x', "y'"])).toBe("@('x','y''')");
  });
});

describe('GUIDs and thumbprints are validated before use', () => {
  it('accepts well-formed values and normalises their case', () => {
    expect(psGuid('AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', 'x')).toBe(
      "'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'",
    );
    expect(psThumbprint('ab'.repeat(20), 'x')).toBe(`'${'AB'.repeat(20)}'`);
  });

  it('refuses anything else with a CONFIGURATION error that does not echo the value', () => {
    for (const bad of ["'; exit; '", 'not-a-guid', `${'a'.repeat(39)}'`, '']) {
      expect(() => psGuid(bad, 'Microsoft 365.client_id')).toThrow(/client_id must be a GUID/);
      try {
        psThumbprint(bad, 'Microsoft Exchange.exchange_certificate_thumbprint');
        expect.unreachable();
      } catch (error) {
        expect((error as Error & { code: string }).code).toBe('CONFIGURATION');
        if (bad) expect((error as Error).message).not.toContain(bad);
      }
    }
  });
});

/** The script with every string literal blanked out: what PowerShell would read as code. */
function codeOnly(script: string): string {
  let out = '';
  let last = 0;
  for (const token of tokenize(script)) {
    if (token.t !== 'str' || script[token.pos] === '"') continue;
    out += script.slice(last, token.pos);
    const end = readSingleQuoted(script, token.pos).end;
    out += ' '.repeat(end - token.pos);
    last = end;
  }
  return out + script.slice(last);
}

describe('generated scripts never hold a tenant value outside a single-quoted literal', () => {
  const tenantId = '66666666-7777-4888-9999-000000000000';
  const cases = NASTY.filter((v) => v.length >= 3);

  it.each(cases)('a service account and HTTP proxy credentials like %j', (nasty) => {
    const tenant = tenantFor(tenantId, {
      'Microsoft Teams': { tenantUsername: `user${nasty}@contoso.example`, tenantPassword: `pw${nasty}` },
      'Microsoft Teams HTTP Proxy': {
        use_proxy: true,
        use_http_proxy_auth: true,
        http_proxy_username: `proxy${nasty}`,
        http_proxy_password: `proxypw${nasty}`,
      },
    });
    for (const script of [buildTeamsPullScript(tenant), buildTeamsTestScript(tenant)]) {
      const literals = tokenize(script).flatMap((t) => (t.t === 'str' ? [t.value] : []));
      const values = [`user${nasty}@contoso.example`, `pw${nasty}`, `proxy${nasty}`, `proxypw${nasty}`];
      for (const value of values) {
        expect(literals).toContain(value.trim() === value ? value : value.trim());
      }
      const code = codeOnly(script);
      for (const value of values) expect(code).not.toContain(value.trim());
      // The nasty part never reaches the code either (beyond characters the prelude itself uses).
      if (nasty.length >= 6) expect(code).not.toContain(nasty.trim());
    }
  });

  it('passwords stay off the lines that call Connect-* (PowerShell echoes that line in an error)', () => {
    const tenant = tenantFor(tenantId, { 'Microsoft Teams': { tenantPassword: 'Secret-On-Its-Own-Line' } });
    const script = buildTeamsPullScript(tenant);
    const connect = script.split('\n').find((l) => l.includes('Connect-MicrosoftTeams'))!;
    expect(connect).not.toContain('Secret-On-Its-Own-Line');
    const exchange = buildExchangePullScript(tenant, { organization: 'contoso.onmicrosoft.com' });
    expect(codeOnly(exchange)).not.toMatch(/FEDCBA98/);
  });
});
