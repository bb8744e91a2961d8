/**
 * The WS-Management reader's direct path (parseSimpleXml) gives exactly the tree xml2js gives, or
 * leaves the document to xml2js: on fixed documents (a Receive response as the simulated proxy
 * writes it, and the odd cases the direct path must recognise or refuse) and on generated ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSimpleXml, parseXml, parseXmlByXml2js } from '../../../connectors/winrm/xml.js';
import { NS } from '../../../connectors/winrm/wsman.js';

/** The reading as text (key order included), or the failure. */
async function reading(read: (text: string) => Promise<unknown>, text: string): Promise<string> {
  try {
    return JSON.stringify(await read(text));
  } catch (error) {
    return `fails: ${(error as Error).message}`;
  }
}

async function expectSameReading(text: string): Promise<void> {
  expect(await reading(parseXml, text), text).toBe(await reading(parseXmlByXml2js, text));
}

const envelope = (body: string) =>
  `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:rsp="${NS.rsp}">` +
  `<s:Header><a:RelatesTo>uuid:1</a:RelatesTo><w:Selector Name='ShellId'>S</w:Selector></s:Header>` +
  `<s:Body>${body}</s:Body></s:Envelope>`;
const receive = envelope(
  '<rsp:ReceiveResponse>' +
    '<rsp:Stream Name="stdout" CommandId="C">eyJ0IjoiZG9uZSJ9DQo=</rsp:Stream>' +
    '<rsp:Stream Name="stderr" CommandId="C"></rsp:Stream>' +
    '<rsp:Stream Name="stdout" CommandId="C" End="true"></rsp:Stream>' +
    '<rsp:CommandState CommandId="C" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>' +
    '</rsp:ReceiveResponse>',
);

describe('parseSimpleXml', () => {
  it('reads a Receive response itself, as xml2js does', async () => {
    expect(parseSimpleXml(receive)).toBeDefined();
    expect(parseSimpleXml(`<?xml version="1.0" encoding="utf-8"?>\n${receive}\n`)).toBeDefined();
    await expectSameReading(receive);
    await expectSameReading(`<?xml version="1.0" encoding="utf-8"?>\n${receive}\n`);
  });

  const documents = {
    'siblings of one name apart (grouped by name)': '<r><a>1</a><b/><a>2</a><c x="1"/><b>3</b></r>',
    'blank text, alone and beside attributes or children':
      '<r><a> </a><b x="1">  </b><c>\n<d/>\t</c><e></e></r>',
    'text around children': '<r>one<a/>two<b>x</b> three </r>',
    'prefixes stripped, xmlns kept': '<p:r xmlns:p="u" p:a="1" b:c:d="2" xmlns="v"><q:x:y/></p:r>',
    'attributes that strip to one name': '<r a:x="1" b:x="2" x="3"/>',
    'single quotes and spaces': "<r  a = '1' b='x\"y' >t</r>",
    'a repeated attribute': '<r a="1" a="2"/>',
    'entities and character references': '<r a="&amp;">&lt;&#65;&#x42;</r>',
    'CDATA and a comment': '<r><![CDATA[<x>]]><!-- c --></r>',
    'a CR in text and in an attribute': '<r a="1\r2">x\r\ny</r>',
    'names of Object.prototype': '<r><constructor/><toString a="1"/><__proto__/></r>',
    'attribute named __proto__ and hasOwnProperty': '<r __proto__="1"/><r hasOwnProperty="1"/>',
    'names xml2js keeps special': '<r><_>x</_><p:_/><cdata/></r>',
    'non-ASCII names and text': '<r><ä/>ü€</r>',
    'an empty body': '',
    'whitespace only': ' \n ',
    'text before the root': 'x<r/>',
    'non-breaking space before the root': '\u00a0<r/>',
    'a byte order mark': '\ufeff<r/>',
    'two roots': '<a/><b/>',
    'text after the root': '<a/>x',
    unclosed: '<r><a></r>',
    'an end tag with a space': '<r></r >',
    'mismatched end tag': '<r><a></b></r>',
    'a DOCTYPE': '<!DOCTYPE r><r/>',
    'a processing instruction inside': '<r><?pi x?></r>',
    'an XML declaration late': ' <?xml version="1.0"?><r/>',
    'no space between attributes': '<r a="1"b="2"/>',
    'an attribute without a value': '<r a/>',
    'an unquoted attribute': '<r a=1/>',
    'a digit name after its prefix': '<r><p:1a/></r>',
    'nested 64 deep': `${'<a>'.repeat(65)}${'</a>'.repeat(65)}`,
    'nested 65 deep': `${'<a>'.repeat(66)}${'</a>'.repeat(66)}`,
    'a self-closing element 65 deep': `${'<a>'.repeat(65)}<b/>${'</a>'.repeat(65)}`,
    'unicode whitespace text': '<r><a>\u00a0</a><b>\u2028</b></r>',
    ']]> in text': '<r>a]]>b</r>',
    '> in text and attributes': '<r a=">">b>c</r>',
  };
  for (const [name, text] of Object.entries(documents)) {
    it(`reads ${name} as xml2js does (or leaves it to xml2js)`, async () => {
      await expectSameReading(text);
    });
  }

  it('reads generated documents as xml2js does', async () => {
    const name = fc.constantFrom(
      'a',
      'b',
      'p:a',
      'q:b',
      'rsp:Stream',
      'x.y',
      'x-1',
      '_a',
      'xmlns:z',
      'p:',
      '1',
    );
    const textPiece = fc.oneof(
      fc.constantFrom('', ' ', '\n', '\t', 'AAAA==', 'x y', '&amp;', '\r', '>', ']]>', '\u00a0'),
      fc.string({ maxLength: 6 }).map((s) => s.replace(/[<&]/g, '')),
    );
    const attribute = fc
      .tuple(name, fc.constantFrom('"', "'"), textPiece)
      .map(([n, q, v]) => ` ${n}=${q}${v.replaceAll(q, '')}${q}`);
    const element: fc.Memo<string> = fc.memo((depth) =>
      fc
        .tuple(
          name,
          fc.array(attribute, { maxLength: 3 }),
          depth <= 1
            ? fc.array(textPiece, { maxLength: 2 })
            : fc.array(fc.oneof(textPiece, element(depth - 1)), { maxLength: 4 }),
          fc.boolean(),
        )
        .map(([n, attrs, content, selfClosing]) =>
          selfClosing && content.length === 0
            ? `<${n}${attrs.join('')}/>`
            : `<${n}${attrs.join('')}>${content.join('')}</${n}>`,
        ),
    );
    const document = fc
      .tuple(
        fc.constantFrom('', '<?xml version="1.0"?>', ' '),
        element(4),
        fc.constantFrom('', '\n', 'x', '<a/>'),
      )
      .map(([before, root, after]) => before + root + after);
    await fc.assert(
      fc.asyncProperty(document, async (text) => {
        await expectSameReading(text);
      }),
      { numRuns: 3000 },
    );
  });
});
