/**
 * The PowerShell output decoders under fuzzing: JSON Lines (bytes split anywhere, bad UTF-8, deep
 * nesting, huge lines) and CLIXML (stray markup, entities, escapes). They never throw anything but a
 * SyncError with a code, decode the same whatever the chunking, and keep every valid record.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClixml, decodeClixmlMessages } from '../../connectors/powershell/clixml.js';
import { JsonLinesDecoder, MAX_JSON_DEPTH } from '../../connectors/powershell/json-lines.js';
import type { ScriptRecord } from '../../connectors/powershell/records.js';
import { SyncError } from '../../domain/errors.js';
import { cpuMs, fuzz } from './support/fuzzing.js';

function decode(
  chunks: readonly Uint8Array[],
  options: ConstructorParameters<typeof JsonLinesDecoder>[0] = {},
) {
  const decoder = new JsonLinesDecoder({ normalise: false, ...options });
  const out: ScriptRecord[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  out.push(...decoder.end());
  return out;
}

/** Splits bytes at the given cut points (any byte, so inside UTF-8 characters too). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
}

const kinds = ['teams_users', 'dial_plans', 'policies', 'call_queues', 'mailboxes'] as const;
const plainObject = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 5,
});
const record = fc.oneof(
  fc.record({ t: fc.constant('obj' as const), kind: fc.constantFrom(...kinds), o: plainObject }),
  fc.record({ t: fc.constant('end' as const), kind: fc.constantFrom(...kinds), count: fc.nat() }),
  fc.record({
    t: fc.constant('err' as const),
    kind: fc.constantFrom(...kinds),
    count: fc.nat(),
    message: fc.string({ maxLength: 40 }),
  }),
  fc.constant({ t: 'done' as const }),
);

/** A nested JSON value `depth` levels deep, of arrays or objects. */
function nested(depth: number, array: boolean): string {
  return array ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

describe('JSON Lines decoder under fuzzing', () => {
  it('decodes any bytes the same however they are split, and throws nothing but coded errors', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc
            .array(record, { maxLength: 20 })
            .map((rs) => new TextEncoder().encode(rs.map((r) => JSON.stringify(r)).join('\r\n'))),
          fc.string({ unit: 'binary', maxLength: 500 }).map((s) => new TextEncoder().encode(s)),
        ),
        fc.array(fc.nat(), { maxLength: 12 }),
        (bytes, cuts) => {
          const whole = decode([bytes]);
          expect(decode(split(bytes, cuts))).toEqual(whole);
        },
      ),
      fuzz(800),
    );
  });

  it('keeps every record of a valid stream, in order, with bad UTF-8 and junk lines between them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(record, fc.uint8Array({ maxLength: 12 })), { maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (items, cuts) => {
          const parts: Uint8Array[] = [];
          for (const [r, junk] of items) {
            parts.push(new TextEncoder().encode(`${JSON.stringify(r)}\r\n`));
            // Junk on a line of its own: never a newline inside it, so it cannot join a record's line.
            parts.push(Uint8Array.from(junk.filter((b) => b !== 0x0a)), Uint8Array.of(0x0a));
          }
          const bytes = Buffer.concat(parts);
          const records = decode(split(bytes, cuts)).filter((r) => r.t !== 'text');
          expect(records).toEqual(items.map(([r]) => r));
        },
      ),
      fuzz(500),
    );
  });

  it('turns a line nested too deep into a text record instead of overflowing the stack', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.boolean(), (depth, array) => {
        const line = `{"t":"obj","kind":"policies","o":{"Identity":"x","v":${nested(depth, array)}}}\n`;
        const records = decode([Buffer.from(line)]);
        expect(records).toHaveLength(1);
        if (depth + 2 <= MAX_JSON_DEPTH) expect(records[0]!.t).toBe('obj');
        else
          expect(records[0]).toMatchObject({ t: 'text', text: expect.stringMatching(/nested deeper than/) });
      }),
      fuzz(60),
    );
  });

  it('refuses a line longer than the limit with OUTPUT_TOO_LARGE, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1001, max: 50_000 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (length, cuts) => {
          const bytes = Buffer.from('x'.repeat(length));
          let error: unknown;
          try {
            decode(split(bytes, cuts), { maxLineLength: 1000 });
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(SyncError);
          expect(error).toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
        },
      ),
      fuzz(100),
    );
  });
});

const clixmlPiece = fc.oneof(
  fc.constantFrom(
    '#< CLIXML\r\n',
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">',
    '</Objs>',
    '<S S="Error">',
    '<S S="Warning">',
    '<S S="verbose">',
    '</S>',
    '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN></Obj>',
    '_x000D__x000A_',
    '_x005F_',
    '_xD83D__xDE00_',
    '_xD800_',
    '&lt;',
    '&amp;',
    '&#65;',
    '&#x1F600;',
    'At line:1 char:1_x000D__x000A_',
    '+ CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], CommandNotFoundException_x000D__x000A_',
    '    + FullyQualifiedErrorId : CommandNotFoundException_x000D__x000A_',
    '\r\n',
  ),
  fc.string({ maxLength: 20 }),
);
const validEntity = fc.constantFrom('&lt;', '&gt;', '&amp;', '&quot;', '&apos;', '&#65;', '&#x263A;');

describe('CLIXML decoder under fuzzing', () => {
  it('never throws on CLIXML-like text with valid entities, and gives trimmed, non-empty messages', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(clixmlPiece, validEntity), { maxLength: 60 }), (pieces) => {
        const text = pieces.join('');
        const messages = decodeClixmlMessages(text);
        for (const m of messages) {
          expect(m.message).toBe(m.message.trim());
          expect(m.message).not.toBe('');
        }
      }),
      fuzz(1500),
    );
  });

  it('reads the message of a well-formed error record whatever its text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 80 }).filter((s) => /[A-Za-z0-9]/.test(s)),
        (text) => {
          const escaped = text
            .replace(/&/g, '&amp;')
            .replace(/</g, '&lt;')
            .replace(/>/g, '&gt;')
            .replace(/_x/g, '_x005F_x')
            .replace(/\r/g, '_x000D_')
            .replace(/\n/g, '_x000A_');
          const doc = `#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">${escaped}_x000D__x000A_</S></Objs>`;
          const expected = text.replace(/\s+/g, ' ').trim();
          expect(decodeClixml(doc).join(' ')).toContain(expected.split(' ')[0]);
        },
      ),
      fuzz(500),
    );
  });

  // The decoder is linear and reads an out-of-range reference as U+FFFD (both were fuzzing findings).
  describe('on hostile input', () => {
    it('never throws on any character reference, in range or not', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              clixmlPiece,
              fc.bigInt({ min: 0n, max: 10n ** 12n }).map((n) => `&#${n};`),
            ),
            {
              maxLength: 40,
            },
          ),
          (pieces) => {
            decodeClixmlMessages(pieces.join(''));
          },
        ),
        fuzz(1000),
      );
    });

    it('stays within a CPU budget on unclosed elements repeated up to a few KB', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('<S S="Error">', '<Objs>', '<S S="', '#< CLIXML'),
          fc.integer({ min: 1, max: 400 }),
          (piece, n) => {
            const { ms } = cpuMs(() => decodeClixmlMessages(`<Objs>${piece.repeat(n)}`));
            expect(ms).toBeLessThan(50);
          },
        ),
        fuzz(100),
      );
    });
  });
});
