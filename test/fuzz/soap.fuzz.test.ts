/**
 * The WinRM client's response parsing under fuzzing, over real HTTP: a server on loopback answers
 * each request with a generated body (well-formed responses with odd values, faults with odd codes,
 * truncated or deeply nested XML, entities, random bytes) and status. Creating a shell and a Receive
 * either succeed with sane values or fail with a WinRmError carrying a code, never anything else,
 * and the proxy password appears in no error.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WinRmClient } from '../../connectors/winrm/client.js';
import { WinRmError } from '../../connectors/winrm/errors.js';
import { Shell } from '../../connectors/winrm/shell.js';
import { parseXml } from '../../connectors/winrm/xml.js';
import { COMMAND_STATE_DONE, COMMAND_STATE_RUNNING, NS } from '../../connectors/winrm/wsman.js';
import { quietLogger } from '../workers/support/harness.js';
import { fuzz } from './support/fuzzing.js';

const PASSWORD = 'Fuzz-Proxy-P4ssw0rd!';
const MID = '{{MID}}';

interface Answer {
  status: number;
  body: string;
}

const envelope = (body: string, relatesTo = MID) =>
  `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:rsp="${NS.rsp}">` +
  `<s:Header><a:RelatesTo>${relatesTo}</a:RelatesTo></s:Header><s:Body>${body}</s:Body></s:Envelope>`;

const text = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => s.replace(/[<&]/g, '')),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '4294967295',
    '1e400',
    'NaN',
    'AAAA',
    '====',
    '&amp;',
    '&#0;',
    '&#x110000;',
    ']]>',
  ),
);
const stream = fc
  .tuple(
    fc.constantFrom('stdout', 'stderr', 'stdin', '', 'x'),
    fc.oneof(fc.base64String({ maxLength: 40 }), text),
  )
  .map(([name, data]) => `<rsp:Stream Name="${name}" CommandId="C">${data}</rsp:Stream>`);
const commandState = fc
  .tuple(fc.constantFrom(COMMAND_STATE_DONE, COMMAND_STATE_RUNNING, 'Done', ''), fc.option(text))
  .map(
    ([state, exit]) =>
      `<rsp:CommandState CommandId="C" State="${state}">${exit === null ? '' : `<rsp:ExitCode>${exit}</rsp:ExitCode>`}</rsp:CommandState>`,
  );
const fault = fc
  .tuple(
    fc.constantFrom('s:Receiver', 's:Sender', ''),
    fc.constantFrom('w:TimedOut', 'w:QuotaLimit', 'w:InvalidSelectors', 'w:InternalError', ''),
    fc.oneof(
      fc.constantFrom('2150858793', '2150858843', '2150859173', '2150859174', '2150858817'),
      fc.nat().map(String),
      text,
    ),
    text,
  )
  .map(
    ([code, sub, wsman, reason]) =>
      `<s:Fault><s:Code><s:Value>${code}</s:Value><s:Subcode><s:Value>${sub}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text>${reason}</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="${NS.f}" Code="${wsman}">` +
      `<f:Message>${reason}</f:Message></f:WSManFault></s:Detail></s:Fault>`,
  );
const wellFormed = fc.oneof(
  fc
    .tuple(fc.array(stream, { maxLength: 4 }), fc.option(commandState))
    .map(([streams, state]) =>
      envelope(`<rsp:ReceiveResponse>${streams.join('')}${state ?? ''}</rsp:ReceiveResponse>`),
    ),
  fc
    .tuple(text, fc.boolean())
    .map(([id, selector]) =>
      envelope(
        selector
          ? `<x:ResourceCreated><w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></x:ResourceCreated>`
          : `<rsp:Shell><rsp:ShellId>${id}</rsp:ShellId></rsp:Shell>`,
      ),
    ),
  fault.map((f) => envelope(f)),
  fc.tuple(text, fc.string({ maxLength: 10 })).map(([body, other]) => envelope(body, `uuid:${other}`)),
);
const body = fc.oneof(
  wellFormed,
  // Cut anywhere: a connection closed mid-body, as far as the parser can tell.
  fc.tuple(wellFormed, fc.nat()).map(([xml, cut]) => xml.slice(0, cut % (xml.length + 1))),
  fc.integer({ min: 1, max: 20_000 }).map((n) => envelope('<a>'.repeat(n) + '</a>'.repeat(n))),
  fc.integer({ min: 1, max: 5000 }).map((n) => envelope(`<!-- ${'x'.repeat(n)} -->`)),
  fc.constantFrom(
    '',
    '<?xml version="1.0"?>',
    '<!DOCTYPE s [<!ENTITY e "boom">]><s:Envelope xmlns:s="x">&e;</s:Envelope>',
    'not xml at all',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 200, 200, 400, 401, 404, 413, 500, 503),
  body,
});

describe('SOAP parsing under fuzzing', () => {
  it('parses any text to an element or rejects with a parse error, never a TypeError', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (xml) => {
        try {
          const root = await parseXml(xml.split(MID).join('uuid:1'));
          expect(root.name).toMatch(/\S/);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect(error).not.toBeInstanceOf(TypeError);
        }
      }),
      // An empty body and a bare XML declaration made xml2js answer null (a TypeError here).
      { ...fuzz(200), examples: [[''], ['<?xml version="1.0"?>']] },
    );
  });
});

describe('WinRM response parsing under fuzzing, over HTTP', () => {
  let server: http.Server;
  let client: WinRmClient;
  let next: Answer = { status: 200, body: '' };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const mid =
          /<a:MessageID>([^<]*)<\/a:MessageID>/.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? '';
        const payload = Buffer.from(next.body.split(MID).join(mid), 'utf8');
        res.writeHead(next.status, {
          'Content-Type': 'application/soap+xml;charset=UTF-8',
          'Content-Length': payload.length,
        });
        res.end(payload);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new WinRmClient(
      {
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        scheme: 'http',
        username: 'svc-fuzz',
        password: PASSWORD,
        operationTimeoutMs: 1000,
        networkDelayMs: 2000,
        quotaRetries: 0,
      },
      { logger: quietLogger },
    );
  });
  afterAll(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function outcome(run: () => Promise<unknown>): Promise<unknown> {
    try {
      return await run();
    } catch (error) {
      expect(error).toBeInstanceOf(WinRmError);
      expect((error as WinRmError).code).toMatch(/^[A-Z_]+$/);
      expect(String((error as Error).message)).not.toContain(PASSWORD);
      return error;
    }
  }

  it('Create: a shell with an id, or a coded WinRmError', async () => {
    await fc.assert(
      fc.asyncProperty(answer, async (a) => {
        next = a;
        const result = await outcome(() => client.openShell());
        if (result instanceof Shell) {
          expect(result.id).toMatch(/\S/);
          client.shellGone(result.id);
        }
      }),
      fuzz(250),
    );
  });

  it('Receive: chunks, done and an integer exit code, or a coded WinRmError', async () => {
    const shell = new Shell(client, 'FUZZ-SHELL');
    await fc.assert(
      fc.asyncProperty(answer, async (a) => {
        next = a;
        const result = await outcome(() => shell.receive('C', 1000));
        if (result && !(result instanceof Error)) {
          const r = result as Awaited<ReturnType<Shell['receive']>>;
          for (const c of r.chunks) expect(Buffer.isBuffer(c.data)).toBe(true);
          if (r.done) expect(Number.isInteger(r.exitCode)).toBe(true);
        }
      }),
      fuzz(250),
    );
  });
});
