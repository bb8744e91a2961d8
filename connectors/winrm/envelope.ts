import { randomUUID } from 'node:crypto';
import { ACTION, ANONYMOUS, CMD_SHELL_URI, NS, type ShellAction } from './wsman.js';
import { escapeXml } from './xml.js';

/**
 * Request envelopes for the WinRS cmd shell. Built as text: they are small, fixed in shape, and a
 * template shows exactly what goes on the wire (compare pywinrm's `_get_soap_header`). Every value
 * that is not a constant goes through escapeXml.
 */

export interface EnvelopeHeader {
  action: ShellAction;
  /** The endpoint URL, as `a:To`. */
  to: string;
  maxEnvelopeSize: number;
  /** OperationTimeout in milliseconds (the server caps it at MaxTimeoutms, 60 s by default). */
  operationTimeoutMs: number;
  shellId?: string;
  options?: Record<string, string>;
}

export interface Envelope {
  messageId: string;
  xml: string;
}

/** `PT20S`, `PT0.500S`: an xs:duration in seconds, as WS-Management expects. */
export function isoSeconds(ms: number): string {
  const seconds = Math.max(ms, 1) / 1000;
  return `PT${Number.isInteger(seconds) ? seconds : seconds.toFixed(3)}S`;
}

function header(h: EnvelopeHeader, messageId: string): string {
  const selector =
    h.shellId === undefined
      ? ''
      : `<w:SelectorSet><w:Selector Name="ShellId">${escapeXml(h.shellId)}</w:Selector></w:SelectorSet>`;
  const options =
    h.options === undefined
      ? ''
      : `<w:OptionSet>${Object.entries(h.options)
          .map(([name, value]) => `<w:Option Name="${escapeXml(name)}">${escapeXml(value)}</w:Option>`)
          .join('')}</w:OptionSet>`;
  return (
    `<s:Header>` +
    `<a:To>${escapeXml(h.to)}</a:To>` +
    `<a:ReplyTo><a:Address s:mustUnderstand="true">${ANONYMOUS}</a:Address></a:ReplyTo>` +
    `<w:MaxEnvelopeSize s:mustUnderstand="true">${h.maxEnvelopeSize}</w:MaxEnvelopeSize>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>` +
    `<p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>` +
    `<w:OperationTimeout>${isoSeconds(h.operationTimeoutMs)}</w:OperationTimeout>` +
    `<w:ResourceURI s:mustUnderstand="true">${CMD_SHELL_URI}</w:ResourceURI>` +
    `<a:Action s:mustUnderstand="true">${ACTION[h.action]}</a:Action>` +
    selector +
    options +
    `</s:Header>`
  );
}

function envelope(h: EnvelopeHeader, body: string): Envelope {
  const messageId = `uuid:${randomUUID().toUpperCase()}`;
  const xml =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:p="${NS.p}" xmlns:rsp="${NS.rsp}">` +
    header(h, messageId) +
    `<s:Body>${body}</s:Body></s:Envelope>`;
  return { messageId, xml };
}

type Common = Omit<EnvelopeHeader, 'action' | 'options' | 'shellId'>;

export function createShellEnvelope(
  c: Common,
  options: { codepage: number; noProfile: boolean; idleTimeoutMs?: number },
): Envelope {
  // rsp:IdleTimeOut: the proxy deletes the shell itself after this long without a request, so a
  // shell whose worker died does not wait for the server's default (2 hours) holding a quota slot.
  const idle =
    options.idleTimeoutMs === undefined
      ? ''
      : `<rsp:IdleTimeOut>${isoSeconds(options.idleTimeoutMs)}</rsp:IdleTimeOut>`;
  return envelope(
    {
      ...c,
      action: 'Create',
      options: {
        WINRS_NOPROFILE: options.noProfile ? 'TRUE' : 'FALSE',
        WINRS_CODEPAGE: String(options.codepage),
      },
    },
    `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>${idle}</rsp:Shell>`,
  );
}

export function commandEnvelope(
  c: Common,
  shellId: string,
  command: string,
  args: readonly string[],
): Envelope {
  const argsXml = args.map((a) => `<rsp:Arguments>${escapeXml(a)}</rsp:Arguments>`).join('');
  return envelope(
    {
      ...c,
      action: 'Command',
      shellId,
      options: { WINRS_CONSOLEMODE_STDIN: 'TRUE', WINRS_SKIP_CMD_SHELL: 'FALSE' },
    },
    `<rsp:CommandLine><rsp:Command>${escapeXml(command)}</rsp:Command>${argsXml}</rsp:CommandLine>`,
  );
}

export function sendEnvelope(
  c: Common,
  shellId: string,
  commandId: string,
  data: Buffer,
  end: boolean,
): Envelope {
  return envelope(
    { ...c, action: 'Send', shellId },
    `<rsp:Send><rsp:Stream Name="stdin" CommandId="${escapeXml(commandId)}"${end ? ' End="true"' : ''}>` +
      `${data.toString('base64')}</rsp:Stream></rsp:Send>`,
  );
}

export function receiveEnvelope(c: Common, shellId: string, commandId: string): Envelope {
  return envelope(
    { ...c, action: 'Receive', shellId, options: { WSMAN_CMDSHELL_OPTION_KEEPALIVE: 'TRUE' } },
    `<rsp:Receive><rsp:DesiredStream CommandId="${escapeXml(commandId)}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
  );
}

export function signalEnvelope(c: Common, shellId: string, commandId: string, code: string): Envelope {
  return envelope(
    { ...c, action: 'Signal', shellId },
    `<rsp:Signal CommandId="${escapeXml(commandId)}"><rsp:Code>${escapeXml(code)}</rsp:Code></rsp:Signal>`,
  );
}

export function deleteShellEnvelope(c: Common, shellId: string): Envelope {
  return envelope({ ...c, action: 'Delete', shellId }, '');
}

/** WS-Management Identify (what `Test-WSMan` sends): cheap, used by the pool's health probes. */
export function identifyEnvelope(): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS.s}" xmlns:wsmid="${NS.wsmid}"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`
  );
}

/**
 * Bytes of raw stdin that fit one Send: the envelope minus its fixed part, and base64 makes 3 bytes 4.
 * The overhead allowance is generous (a Send header is about 1.5 KB) so a server that counts
 * differently still accepts it.
 */
export function sendChunkBytes(maxEnvelopeSize: number): number {
  const overhead = 4096;
  return Math.max(1024, Math.floor((maxEnvelopeSize - overhead) / 4) * 3);
}
