/**
 * Secrets come back from scripts and sign-in endpoints in other spellings than the stored one: every
 * spelling is masked, and an `err` line's message (which quotes whatever the cmdlet said) is masked
 * as it is read.
 */
import { describe, expect, it } from 'vitest';
import { redactSecrets, secretForms } from '../../../domain/redaction.js';
import {
  scriptFailure,
  splitScriptOutput,
  type OutputChunk,
} from '../../../connectors/powershell/script-output.js';

async function* from<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

const SECRET = 'p@ss w\'rd\u2019/é+"x';

describe('redactSecrets', () => {
  it.each([
    ['as stored', SECRET],
    ['URL-encoded (encodeURIComponent)', encodeURIComponent(SECRET)],
    [
      'URL-encoded with lower-case hex',
      encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    ],
    ['percent-encoded strictly (EscapeDataString)', encodeURIComponent(SECRET).replace(/'/g, '%27')],
    ['form-encoded (space as +)', encodeURIComponent(SECRET).replace(/%20/g, '+')],
    ['quote-doubled as in a PowerShell single-quoted literal', SECRET.replace(/['\u2019]/g, (q) => q + q)],
    ['quote-doubled in both quote styles', SECRET.replace(/['\u2019]/g, (q) => q + q).replace(/"/g, '""')],
  ])('masks a secret %s', (_what, spelling) => {
    const text = `Connect-MicrosoftTeams: at '${spelling}' failed`;
    const masked = redactSecrets(text, [SECRET]);
    expect(masked).toBe("Connect-MicrosoftTeams: at '********' failed");
  });

  it('masks a secret stored percent-encoded (a proxy URL password) in its decoded form', () => {
    expect(redactSecrets('proxy said p@ss:w', ['p%40ss%3Aw'])).toBe('proxy said ********');
  });

  it('masks longest first, and leaves text without secrets alone', () => {
    expect(redactSecrets('a proxy-secret-long b proxy-secret', ['proxy-secret', 'proxy-secret-long'])).toBe(
      'a ******** b ********',
    );
    expect(redactSecrets('nothing to hide', [SECRET, 'ab'])).toBe('nothing to hide');
  });

  it('lists the spellings without duplicates', () => {
    const forms = secretForms('plain');
    expect(forms).toEqual(['plain']);
  });
});

describe("a script's err line", () => {
  const line = (message: string) =>
    `${JSON.stringify({ t: 'err', kind: 'call_queues', count: 0, message })}\n`;

  it('has every spelling of every tenant secret masked as it is read, and is cut to 1000 characters', async () => {
    const message =
      `Invoke-RestMethod https://proxy/?p=${encodeURIComponent(SECRET)} at line: ` +
      `$p = ConvertTo-SecureString -String '${SECRET.replace(/['\u2019]/g, (q) => q + q)}' ${SECRET}`;
    const chunks: OutputChunk[] = [
      { stream: 'stdout', data: Buffer.from(line(message)) },
      { stream: 'stdout', data: Buffer.from(line('x'.repeat(5000))) },
    ];
    const output = splitScriptOutput(from(chunks), { secrets: [SECRET] });
    const errs: string[] = [];
    for await (const record of output.records) if (record.t === 'err') errs.push(record.message);
    expect(errs[0]).toBe(
      "Invoke-RestMethod https://proxy/?p=******** at line: $p = ConvertTo-SecureString -String '********' ********",
    );
    expect(errs[1]).toHaveLength(1000);
  });

  it('also masks the stderr path in every spelling (scriptFailure)', () => {
    const failure = scriptFailure('Microsoft Teams', 1, [`bad '${encodeURIComponent(SECRET)}'`], [SECRET])!;
    expect(failure.message).toContain("bad '********'");
    expect(failure.message).not.toContain(encodeURIComponent(SECRET));
  });
});
