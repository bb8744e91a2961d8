import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClixml, decodeClixmlMessages } from '../../../connectors/powershell/clixml.js';
import {
  decodeJsonLines,
  nestedDeeperThan,
  nestedDeeperThanByCharacter,
  parseScriptLine,
  Utf8LineSplitter,
} from '../../../connectors/powershell/json-lines.js';
import { normaliseDate, normalisePsObject } from '../../../connectors/powershell/normalise.js';
import { scriptLine, type ScriptRecord } from '../../../connectors/powershell/records.js';
import {
  redactSecrets,
  scriptFailure,
  splitScriptOutput,
  type OutputChunk,
} from '../../../connectors/powershell/script-output.js';
import { parseSettings } from '../../../domain/settings.js';

async function* from<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const OUTPUT = [
  '{"t":"obj","kind":"teams_users","o":{"DisplayName":"Zoë Ünal","City":"東京","Mood":"😀","Quote":"O\'Brien \\"x\\""}}',
  '{"t":"obj","kind":"dial_plans","o":{"Identity":"Tag:DP-Malmö","Created":"\\/Date(1326441600000)\\/"}}',
  '{"t":"end","kind":"dial_plans","count":1}',
  '{"t":"err","kind":"call_queues","count":0,"message":"Gerät nicht gefunden – ошибка"}',
  '{"t":"done"}',
].join('\r\n');

describe('decodeJsonLines', () => {
  it('gives the same records whatever byte the output is split at (every offset, two pieces)', async () => {
    const bytes = Buffer.from(OUTPUT, 'utf8');
    const expected = await all(decodeJsonLines(from([bytes])));
    expect(expected.map((r) => r.t)).toEqual(['obj', 'obj', 'end', 'err', 'done']);
    expect((expected[0] as Extract<ScriptRecord, { t: 'obj' }>).o.City).toBe('東京');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const records = await all(decodeJsonLines(from([bytes.subarray(0, cut), bytes.subarray(cut)])));
      expect(records).toEqual(expected);
    }
  });

  it('gives the same records when every byte arrives on its own', async () => {
    const bytes = Buffer.from(OUTPUT, 'utf8');
    const pieces = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expect(await all(decodeJsonLines(from(pieces)))).toEqual(await all(decodeJsonLines(from([bytes]))));
  });

  it('holds only the unfinished line, and a last line without a newline still counts', () => {
    const splitter = new Utf8LineSplitter();
    expect(splitter.push(Buffer.from('{"t":"do'))).toEqual([]);
    expect(splitter.push(Buffer.from('ne"}\r\n{"t"'))).toEqual(['{"t":"done"}']);
    expect(splitter.end()).toEqual(['{"t"']);
  });

  it('fails with OUTPUT_TOO_LARGE past the byte budget instead of growing', async () => {
    const line = Buffer.from(`${'{"t":"done"}'.padEnd(99, ' ')}\n`);
    const chunks = Array.from({ length: 20 }, () => line);
    await expect(all(decodeJsonLines(from(chunks), { maxBytes: 1000 }))).rejects.toMatchObject({
      code: 'OUTPUT_TOO_LARGE',
    });
    await expect(all(decodeJsonLines(from(chunks), { maxBytes: 2000 }))).resolves.toHaveLength(20);
    await expect(
      all(decodeJsonLines(from([Buffer.from('x'.repeat(5000))]), { maxLineLength: 4096 })),
    ).rejects.toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
  });

  it('keeps lines outside the contract as text records, never as data', async () => {
    const records = await all(
      decodeJsonLines(
        from([
          Buffer.from(
            'Account : x\n{"t":"obj","kind":"nope","o":{}}\n{"t":"obj","kind":"dial_plans","o":[]}\n\n',
          ),
        ]),
      ),
    );
    expect(records.map((r) => r.t)).toEqual(['text', 'text', 'text']);
  });

  it('normalises Windows PowerShell dates and known enums in objects', async () => {
    const [record] = await all(
      decodeJsonLines(
        from([
          Buffer.from(
            '{"t":"obj","kind":"call_queues","o":{"RoutingMethod":2,"Created":"\\/Date(1326441600000)\\/","Nested":[{"At":"\\/Date(0+0100)\\/"}]}}\n',
          ),
        ]),
      ),
    );
    expect(record).toEqual({
      t: 'obj',
      kind: 'call_queues',
      o: {
        RoutingMethod: 'RoundRobin',
        Created: '2012-01-13T08:00:00.000Z',
        Nested: [{ At: '1970-01-01T00:00:00.000Z' }],
      },
    });
  });
});

describe('parseScriptLine', () => {
  /** What the schema and `normalisePsObject` make of a line (the reading before the fast one). */
  const bySchema = (line: string, normalise: boolean): ScriptRecord => {
    const parsed = scriptLine.safeParse(JSON.parse(line));
    if (!parsed.success) return { t: 'text', text: line };
    const record = parsed.data;
    return normalise && record.t === 'obj'
      ? { ...record, o: normalisePsObject(record.kind, record.o) }
      : record;
  };
  /** The record as stored: own keys, prototypes and all (JSON would hide a prototype set by `__proto__`). */
  const shape = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const proto: unknown = Object.getPrototypeOf(value);
    const entries = Object.entries(value).map(([k, v]) => [k, shape(v)]);
    return {
      array: Array.isArray(value),
      proto: proto === Object.prototype || proto === Array.prototype ? 'plain' : shape(proto),
      entries,
    };
  };
  const lines = [
    '{"t":"obj","kind":"dial_plans","o":{"Identity":"Tag:DP","Created":"\\/Date(1326441600000)\\/","List":["\\/Date(0)\\/",["\\/Date(1)\\/"],{"d":"\\/Date(2)\\/"}]}}',
    '{"t":"obj","kind":"mailboxes","o":{"RecipientTypeDetails":4,"Other":[1,16]}}',
    '{"t":"obj","kind":"distribution_groups","o":{"RecipientTypeDetails":[1,"x",1024]}}',
    '{"t":"obj","kind":"call_queues","o":{"RoutingMethod":2,"2":"integer key","a":null}}',
    '{"kind":"teams_users","o":{"a":1},"t":"obj","extra":true}',
    '{"t":"obj","kind":"teams_users","o":{"__proto__":{"x":"\\/Date(3)\\/"},"a":1}}',
    '{"t":"obj","kind":"teams_users","o":{"a":{"__proto__":{"x":1},"d":"\\/Date(4)\\/"},"b":"\\/Date(5)\\/"}}',
    '{"t":"obj","kind":"teams_users","o":{"a":[{"__proto__":7}],"b":"\\/Date(6)\\/"}}',
    '{"t":"obj","kind":"no_such_kind","o":{"a":1}}',
    '{"t":"obj","kind":"teams_users","o":[1]}',
    '{"t":"obj","kind":"teams_users","o":null}',
    '{"t":"obj","kind":"teams_users"}',
    '{"t":"obj","kind":7,"o":{}}',
    '{"t":"obj","kind":"teams_users","o":{}}',
    '{"t":"end","kind":"teams_users","count":1}',
  ];

  it('reads every line as the schema and normalisePsObject do, normalised or not', () => {
    for (const normalise of [true, false])
      for (const line of lines)
        expect(shape(parseScriptLine(line, normalise))).toEqual(shape(bySchema(line, normalise)));
  });
});

describe('nestedDeeperThan', () => {
  it('answers as the character-at-a-time definition, escapes and unclosed strings included', () => {
    const fixed = [
      '{"a":"\\\\"}',
      '{"a":"\\"[[[["}',
      '{"a":"\\\\\\"[[["}',
      '"[[[',
      '[[["x\\',
      '[["\\\\"[[',
      `${'['.repeat(65)}${']'.repeat(65)}`,
      `"${'['.repeat(65)}"`,
      `{"k":"\\"",${'['.repeat(64)}`,
    ];
    for (const text of fixed)
      for (const max of [0, 1, 2, 3, 64])
        expect(nestedDeeperThan(text, max), text).toBe(nestedDeeperThanByCharacter(text, max));
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom('{', '}', '[', ']', '"', '\\', 'a', ':', ','), { maxLength: 40 })
          .map((a) => a.join('')),
        fc.integer({ min: 0, max: 5 }),
        (text, max) => nestedDeeperThan(text, max) === nestedDeeperThanByCharacter(text, max),
      ),
      { numRuns: 20_000 },
    );
  });
});

describe('normalise', () => {
  it('turns \\/Date(ms)\\/ into ISO-8601 and leaves other strings alone', () => {
    expect(normaliseDate('/Date(1326441600000)/')).toBe('2012-01-13T08:00:00.000Z');
    expect(normaliseDate('/Date(-86400000)/')).toBe('1969-12-31T00:00:00.000Z');
    expect(normaliseDate('/Date(1326441600000-0500)/')).toBe('2012-01-13T08:00:00.000Z');
    expect(normaliseDate('Date(1)')).toBe('Date(1)');
  });

  it('names RecipientTypeDetails flags, single and combined, and keeps unknown numbers', () => {
    expect(normalisePsObject('mailboxes', { RecipientTypeDetails: 4 }).RecipientTypeDetails).toBe(
      'SharedMailbox',
    );
    expect(normalisePsObject('mailboxes', { RecipientTypeDetails: 1 | 16 }).RecipientTypeDetails).toBe(
      'UserMailbox, RoomMailbox',
    );
    expect(normalisePsObject('mailboxes', { RecipientTypeDetails: 2 ** 40 }).RecipientTypeDetails).toBe(
      2 ** 40,
    );
    expect(normalisePsObject('mailboxes', { RecipientTypeDetails: 'UserMailbox' }).RecipientTypeDetails).toBe(
      'UserMailbox',
    );
    expect(normalisePsObject('call_queues', { RoutingMethod: 9 }).RoutingMethod).toBe(9);
    expect(normalisePsObject('dial_plans', { RoutingMethod: 2 }).RoutingMethod).toBe(2);
  });
});

// Samples of what powershell.exe writes to a redirected stderr, as published in pywinrm's tests
// (winrm/tests, Session._clean_error_msg) and in a Packer build log (progress record).
const PYWINRM_PROGRESS_AND_ERROR =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj><Obj S="progress" RefId="1"><TNRef RefId="0" /><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj><S S="Error">fake : The term \'fake\' is not recognized as the name of a cmdlet, function, script file, or operable program. Check _x000D__x000A_</S><S S="Error">the spelling of the name, or if a path was included, verify that the path is correct and try again._x000D__x000A_</S><S S="Error">At line:1 char:1_x000D__x000A_</S><S S="Error">+ fake cmdlet_x000D__x000A_</S><S S="Error">+ ~~~~_x000D__x000A_</S><S S="Error">    + CategoryInfo          : ObjectNotFound: (fake:String) [], CommandNotFoundException_x000D__x000A_</S><S S="Error">    + FullyQualifiedErrorId : CommandNotFoundException_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>';

const PROGRESS_ONLY =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>';

// An error whose CategoryInfo the console wrapped mid-word, as captured from a real host.
const WRAPPED =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Get-Item : Cannot find path \'HKLM:\\SOFTWARE\\NoSuchKey\' because it does not exist._x000D__x000A_</S><S S="Error">At line:1 char:1_x000D__x000A_</S><S S="Error">+ Get-Item -Path \'HKLM:\\SOFTWARE\\NoSuchKey\' -ErrorAction ..._x000D__x000A_</S><S S="Error">+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~_x000D__x000A_</S><S S="Error">    + CategoryInfo          : ObjectNotFound: (HKLM:\\SOFTWARE\\NoSuchKey:String) [Get-Item], ItemNotFoun _x000D__x000A_</S><S S="Error">   dException_x000D__x000A_</S><S S="Error">    + FullyQualifiedErrorId : PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>';

describe('decodeClixml', () => {
  it('drops progress records and reads an error record as one message, without the script echo', () => {
    const [message] = decodeClixmlMessages(PYWINRM_PROGRESS_AND_ERROR);
    expect(decodeClixmlMessages(PYWINRM_PROGRESS_AND_ERROR)).toHaveLength(1);
    expect(message).toEqual({
      stream: 'error',
      message:
        "fake : The term 'fake' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
      errorId: 'CommandNotFoundException',
      category: 'ObjectNotFound: (fake:String) [], CommandNotFoundException',
    });
  });

  it('gives nothing for progress alone', () => {
    expect(decodeClixml(PROGRESS_ONLY)).toEqual([]);
  });

  it('re-joins a wrapped CategoryInfo and keeps the error id', () => {
    const [m] = decodeClixmlMessages(WRAPPED);
    expect(m!.message).toBe(
      "Get-Item : Cannot find path 'HKLM:\\SOFTWARE\\NoSuchKey' because it does not exist.",
    );
    expect(m!.category).toBe(
      'ObjectNotFound: (HKLM:\\SOFTWARE\\NoSuchKey:String) [Get-Item], ItemNotFoundException',
    );
    expect(m!.errorId).toBe('PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand');
  });

  it('decodes _xHHHH_ escapes (surrogate pairs too), XML entities and warnings; separates records', () => {
    const text =
      '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">' +
      '<S S="warning">Mailbox &lt;shared&gt; &amp; more_x000D__x000A_</S>' +
      '<S S="Error">First : A_x005F_x0041_ B _xD83D__xDE00_ Zoë_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S>' +
      '<S S="Error">Second : two_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>';
    expect(decodeClixml(text)).toEqual([
      'WARNING: Mailbox <shared> & more',
      'First : A_x0041_ B 😀 Zoë',
      'Second : two',
    ]);
  });

  it('keeps plain stderr text that is not CLIXML, and survives a truncated document', () => {
    expect(decodeClixml('Access is denied.\r\n')).toEqual(['Access is denied.']);
    expect(decodeClixml('#< CLIXML\r\nboom-console\r\n' + PROGRESS_ONLY)).toEqual(['boom-console']);
    const truncated = PYWINRM_PROGRESS_AND_ERROR.slice(0, PYWINRM_PROGRESS_AND_ERROR.indexOf('At line:'));
    expect(decodeClixml(truncated)[0]).toMatch(/^fake : The term 'fake' is not recognized/);
  });
});

describe('decodeClixml on hostile stderr', () => {
  const HEAD =
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">';

  // Linear time: 2 MiB of start tags that never close took minutes when every tag searched the rest
  // of the text for its </S>. The unit tests' default time limit (5 s) is the bound: these take
  // tens of milliseconds.
  it('reads 2 MiB of never-closed elements without standing still, keeping what came before', () => {
    const text = `${HEAD}<S S="Error">real error_x000D__x000A_</S><S S="Error">_x000D__x000A_</S>${'<S S="Error">x'.repeat(150_000)}`;
    expect(text.length).toBeGreaterThan(2 * 1024 * 1024);
    expect(decodeClixml(text)).toEqual(['real error']);
  });

  it('reads 2 MiB of unterminated attributes and never-opened tags', () => {
    expect(decodeClixml(HEAD + '<S S="Error'.repeat(200_000))).toEqual([]);
    expect(decodeClixml(HEAD + '<S S="a"b'.repeat(250_000))).toEqual([]);
    expect(decodeClixml('<Objs '.repeat(400_000))).toEqual([]);
  });

  it('turns references to code points XML cannot carry into U+FFFD instead of throwing', () => {
    const text = `${HEAD}<S S="Error">a&#99999999;b&#x110000;c&#0;d&#xD800;e&#65;&#x1F600;&#1234567890123;</S></Objs>`;
    expect(decodeClixml(text)).toEqual(['a\uFFFDb\uFFFDc\uFFFDd\uFFFDeA\u{1F600}&#1234567890123;']);
  });
});

describe('splitScriptOutput', () => {
  it('streams stdout records and collects stderr messages from interleaved chunks', async () => {
    const chunks: OutputChunk[] = [
      { stream: 'stderr', data: Buffer.from(PROGRESS_ONLY.slice(0, 50)) },
      { stream: 'stdout', data: Buffer.from('{"t":"end","kind":"dial_plans",') },
      { stream: 'stderr', data: Buffer.from(PROGRESS_ONLY.slice(50)) },
      { stream: 'stdout', data: Buffer.from('"count":0}\n{"t":"done"}\n') },
      { stream: 'stderr', data: Buffer.from(WRAPPED) },
    ];
    const output = splitScriptOutput(from(chunks));
    expect((await all(output.records)).map((r) => r.t)).toEqual(['end', 'done']);
    expect(output.errors()).toEqual([
      "Get-Item : Cannot find path 'HKLM:\\SOFTWARE\\NoSuchKey' because it does not exist.",
    ]);
  });

  it('counts stderr against the output budget too', async () => {
    const chunks: OutputChunk[] = Array.from({ length: 10 }, () => ({
      stream: 'stderr',
      data: Buffer.alloc(200, 65),
    }));
    await expect(all(splitScriptOutput(from(chunks), { maxBytes: 1000 }).records)).rejects.toMatchObject({
      code: 'OUTPUT_TOO_LARGE',
    });
  });
});

describe('scriptFailure', () => {
  const secrets = ["Pa55'word$(x)", 'proxy-secret'];

  it('is nothing for a clean run', () => {
    expect(scriptFailure('Microsoft Teams', 0, [], secrets)).toBeUndefined();
  });

  it('explains a wrong password without the password', () => {
    const error = scriptFailure(
      'Microsoft Teams',
      1,
      [
        "Connect-MicrosoftTeams : One or more errors occurred.: AADSTS50126: Error validating credentials due to invalid username or password. Pa55'word$(x)",
      ],
      secrets,
    )!;
    expect(error.code).toBe('AUTHENTICATION');
    expect(error.message).toMatch(/tenantUsername and tenantPassword/);
    expect(error.message).not.toContain("Pa55'word$(x)");
  });

  it('points to certificate authentication when MFA is required', () => {
    const error = scriptFailure(
      'Microsoft Teams',
      1,
      ['Connect-MicrosoftTeams : AADSTS50076: you must use multi-factor authentication'],
      [],
    )!;
    expect(error.message).toMatch(/authentication to certificate/);
  });

  it('is a retryable POWERSHELL_ERROR otherwise, also for exit 0 without the done line', () => {
    expect(scriptFailure('Exchange Online', 1, ['boom'], [])).toMatchObject({
      code: 'POWERSHELL_ERROR',
      retryable: true,
    });
    expect(scriptFailure('Exchange Online', 0, [], [], false)!.message).toMatch(/before its end/);
  });

  it('redacts every secret, longest first', () => {
    expect(redactSecrets('a proxy-secret-long b proxy-secret', ['proxy-secret', 'proxy-secret-long'])).toBe(
      'a ******** b ********',
    );
  });
});

describe('powershellOutputLimits', () => {
  it('has defaults and reads the environment', async () => {
    const { powershellOutputLimits } = await import('../../../connectors/powershell/config.js');
    expect(powershellOutputLimits(parseSettings({}))).toEqual({
      maxBytes: 512 * 1024 * 1024,
      maxStderrBytes: 1024 * 1024,
      maxLineLength: 64 * 1024 * 1024,
    });
    expect(powershellOutputLimits(parseSettings({ POWERSHELL_MAX_OUTPUT_BYTES: '1000' })).maxBytes).toBe(
      1000,
    );
    expect(() => parseSettings({ POWERSHELL_MAX_OUTPUT_BYTES: 'lots' })).toThrow(
      /POWERSHELL_MAX_OUTPUT_BYTES/,
    );
  });
});
