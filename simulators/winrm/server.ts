import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  ACTION,
  CMD_SHELL_URI,
  COMMAND_STATE_DONE,
  COMMAND_STATE_RUNNING,
  NS,
} from '../../connectors/winrm/wsman.js';
import {
  childPath as path,
  escapeText as escapeXml,
  firstNamed as findFirst,
  parseSoap,
  type SoapElement as XmlElement,
} from './xml.js';
import { runCmdLine } from './cmd-emulator.js';
import { parseCommandLine, type ParsedCommand } from './command-line.js';
import {
  winRmSimulatorOptionsSchema,
  type WinRmSimulatorInput,
  type WinRmSimulatorOptions,
} from './options.js';
import { SimCommand } from './sim-command.js';
import { createResponse, FAULTS, faultEnvelope, responseEnvelope, type FaultSpec } from './soap.js';

export type SimAction = 'Identify' | 'Create' | 'Command' | 'Send' | 'Receive' | 'Signal' | 'Delete';

/** A failure to inject into the next matching request(s). */
export type SimFailure =
  | 'drop' // destroy the connection without answering
  | 'shell-not-found'
  | 'quota-shells'
  | 'quota-operations'
  | 'http-503'
  | 'http-413';

export interface SimActionLogEntry {
  seq: number;
  action: SimAction | 'Unauthorized' | 'Dropped' | 'Fault' | 'IdleTimeout';
  user?: string;
  shellId?: string;
  commandId?: string;
  /** `End` on the last Send, the fault's subcode, the signal code, the exit code on Done… */
  detail?: string;
}

export interface SimCounters {
  openShells: number;
  peakOpenShells: number;
  shellsCreated: number;
  shellsDeleted: number;
  /** Shells that vanished without Delete (a simulated restart or stop). */
  shellsLost: number;
  /** Shells the service deleted itself after their IdleTimeOut passed with no request. */
  shellsIdleTimedOut: number;
  commandsStarted: number;
  commandsSignalled: number;
  receives: number;
  timedOutFaults: number;
  quotaFaults: number;
  unauthorized: number;
  droppedConnections: number;
  /** Stream pieces cut inside a UTF-8 character (proves clients must decode across chunks). */
  utf8SplitChunks: number;
  stdinBytes: number;
  outputBytes: number;
}

interface SimShell {
  id: string;
  user: string;
  commands: Map<string, SimCommand>;
  /** rsp:IdleTimeOut as asked (capped by maxIdleTimeoutMs), or the service's default. */
  idleTimeoutMs: number;
  /** When the last request on this shell ended (epoch ms). */
  lastActivity: number;
  /** Requests on this shell in progress (a waiting Receive keeps a shell alive). */
  busy: number;
}

/** What tests see of an open shell. */
export interface SimOpenShell {
  id: string;
  user: string;
  idleTimeoutMs: number;
  commands: number;
}

interface Pending {
  action: SimAction | 'any';
  failure: SimFailure;
  times: number;
}

const RESPONSE_OVERHEAD = 2048;

/**
 * A simulated PowerShell proxy: the WinRM service's WS-Management endpoint for the WinRS cmd shell,
 * on loopback, with Basic authentication for local accounts, real shell and command lifecycles,
 * quotas with the real fault codes, TimedOut faults, and failures on demand. PowerShell scripts go
 * to a ScriptHost (the simulated tenant, or a test's own).
 */
export class WinRmSimulator {
  readonly options: WinRmSimulatorOptions;
  readonly counters: SimCounters = {
    openShells: 0,
    peakOpenShells: 0,
    shellsCreated: 0,
    shellsDeleted: 0,
    shellsLost: 0,
    shellsIdleTimedOut: 0,
    commandsStarted: 0,
    commandsSignalled: 0,
    receives: 0,
    timedOutFaults: 0,
    quotaFaults: 0,
    unauthorized: 0,
    droppedConnections: 0,
    utf8SplitChunks: 0,
    stdinBytes: 0,
    outputBytes: 0,
  };
  readonly actions: SimActionLogEntry[] = [];
  private seq = 0;
  private readonly shells = new Map<string, SimShell>();
  private readonly pending: Pending[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;
  private boundPort = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  responseDelayMs: number;

  constructor(input: WinRmSimulatorInput) {
    this.options = winRmSimulatorOptionsSchema.parse(input);
    this.responseDelayMs = this.options.responseDelayMs;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(error instanceof Error ? error.message : String(error));
      });
    };
    this.server = this.options.tls
      ? https.createServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler)
      : http.createServer(handler);
    this.server.keepAliveTimeout = 120_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://${this.options.host}:${this.boundPort}/wsman`;
  }

  /** Starts listening (again after stop(), on the same port). */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.boundPort || this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    this.idleTimer = setInterval(() => this.expireIdleShells(), this.options.idleCheckMs);
    this.idleTimer.unref();
    return this;
  }

  /** The shells open now (tests check that none is left behind). */
  listShells(): SimOpenShell[] {
    return [...this.shells.values()].map((s) => ({
      id: s.id,
      user: s.user,
      idleTimeoutMs: s.idleTimeoutMs,
      commands: s.commands.size,
    }));
  }

  /** What the WinRM service does with IdleTimeOut: a shell with no request for that long is deleted. */
  private expireIdleShells(): void {
    const now = Date.now();
    for (const shell of this.shells.values()) {
      if (shell.busy > 0 || now - shell.lastActivity < shell.idleTimeoutMs) continue;
      for (const command of shell.commands.values()) command.terminate();
      this.shells.delete(shell.id);
      this.counters.openShells--;
      this.counters.shellsIdleTimedOut++;
      this.log({ action: 'IdleTimeout', user: shell.user, shellId: shell.id });
    }
  }

  /** The proxy goes down: connections are cut, shells are lost, new connections are refused. */
  async stop(): Promise<void> {
    clearInterval(this.idleTimer);
    this.restart();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** The WinRM service restarts: every shell and command is gone ("shell not found" afterwards). */
  restart(): void {
    for (const shell of this.shells.values()) {
      for (const command of shell.commands.values()) command.terminate();
      this.counters.shellsLost++;
    }
    this.shells.clear();
    this.counters.openShells = 0;
  }

  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    if (this.server.listening) await this.stop();
    else this.restart();
  }

  /** The next `times` requests of `action` (or any) fail this way. */
  failNext(action: SimAction | 'any', failure: SimFailure, times = 1): void {
    this.pending.push({ action, failure, times });
  }

  /** Forgets failures armed with failNext and not yet fired. */
  clearFailures(): void {
    this.pending.length = 0;
  }

  /** Open shells of one user (for tests of the pool's cap). */
  openShellsOf(user: string): number {
    let n = 0;
    for (const shell of this.shells.values()) if (shell.user === user) n++;
    return n;
  }

  private log(entry: Omit<SimActionLogEntry, 'seq'>): void {
    this.actions.push({ seq: ++this.seq, ...entry });
    if (this.actions.length > this.options.actionLogLimit) this.actions.shift();
  }

  private takeFailure(action: SimAction): SimFailure | undefined {
    const at = this.pending.findIndex((p) => p.action === action || p.action === 'any');
    if (at < 0) return undefined;
    const p = this.pending[at]!;
    if (--p.times <= 0) this.pending.splice(at, 1);
    return p.failure;
  }

  private authenticate(req: http.IncomingMessage): string | undefined {
    if (!this.options.tls && !this.options.allowUnencrypted) return undefined;
    const header = req.headers.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match) return undefined;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const account = this.options.accounts.find((a) => a.username.toLowerCase() === username.toLowerCase());
    return account && colon >= 0 && account.password === password ? account.username : undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url?.split('?')[0]?.toLowerCase() !== '/wsman') {
      res.writeHead(404).end();
      return;
    }
    const user = this.authenticate(req);
    if (user === undefined) {
      this.counters.unauthorized++;
      this.log({ action: 'Unauthorized' });
      req.resume();
      res
        .writeHead(401, { 'WWW-Authenticate': ['Negotiate', 'Basic realm="WSMAN"'], 'Content-Length': 0 })
        .end();
      return;
    }
    const limit = this.options.maxEnvelopeSizeKb * 1024;
    const body = await readBody(req, limit);
    if (body === undefined) {
      res.writeHead(413, { Connection: 'close' }).end();
      return;
    }
    const envelope = parseSoap(body.toString('utf8'));
    const header = path(envelope, 'Header');
    const bodyEl = path(envelope, 'Body');
    const messageId = findFirst(header ?? envelope, 'MessageID')?.text.trim();
    const actionUri = findFirst(header ?? envelope, 'Action')?.text.trim();
    const action = bodyEl && findFirst(bodyEl, 'Identify') ? 'Identify' : actionName(actionUri);

    if (action === undefined) {
      return this.fault(res, messageId, FAULTS.actionNotSupported(actionUri ?? '(none)'));
    }
    const injected = this.takeFailure(action);
    if (injected === 'drop') {
      this.counters.droppedConnections++;
      this.log({ action: 'Dropped', user, detail: action });
      req.socket.destroy();
      return;
    }
    if (this.responseDelayMs > 0) await new Promise((r) => setTimeout(r, this.responseDelayMs));
    if (injected === 'http-503') {
      res.writeHead(503, { 'Content-Length': 0 }).end();
      return;
    }
    if (injected === 'http-413') {
      res.writeHead(413, { 'Content-Length': 0 }).end();
      return;
    }
    if (action === 'Identify') {
      this.log({ action, user });
      return this.send(
        res,
        `<s:Envelope xmlns:s="${NS.s}" xmlns:wsmid="${NS.wsmid}"><s:Header/><s:Body><wsmid:IdentifyResponse>` +
          `<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>` +
          `<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>` +
          `<wsmid:ProductVersion>OS: 10.0.20348 SP: 0.0 Stack: 3.0 (simulated)</wsmid:ProductVersion>` +
          `</wsmid:IdentifyResponse></s:Body></s:Envelope>`,
      );
    }
    const resourceUri = findFirst(header ?? envelope, 'ResourceURI')?.text.trim();
    if (resourceUri !== CMD_SHELL_URI) {
      return this.fault(
        res,
        messageId,
        FAULTS.invalidParameter(`Only the cmd shell is simulated, not ${resourceUri}.`),
      );
    }
    const shellId = (header && findFirst(header, 'Selector'))?.text.trim();
    if (injected === 'quota-shells')
      return this.quotaFault(res, messageId, user, action, FAULTS.maxShells(this.options.maxShellsPerUser));
    if (injected === 'quota-operations') {
      return this.quotaFault(
        res,
        messageId,
        user,
        action,
        FAULTS.maxOperations(this.options.maxConcurrentOperationsPerUser),
      );
    }
    if (action === 'Create') return this.create(res, req, messageId!, user, header!, bodyEl);

    const shell = shellId === undefined ? undefined : this.shells.get(shellId);
    if (!shell || shell.user !== user || injected === 'shell-not-found') {
      if (shell && shell.user === user) {
        // An injected "shell not found" means what the real one means: the shell is gone (its node
        // restarted, or it idled out), so nothing is left for the client to delete.
        for (const command of shell.commands.values()) command.terminate();
        this.shells.delete(shell.id);
        this.counters.openShells--;
        this.counters.shellsLost++;
      }
      this.log({ action: 'Fault', user, shellId, detail: `${action}:InvalidSelectors` });
      return this.fault(res, messageId, FAULTS.shellNotFound(shellId ?? '(none)'));
    }
    shell.busy++;
    try {
      await this.onShell(action, res, req, messageId!, user, shell, bodyEl!, header!);
    } finally {
      shell.busy--;
      shell.lastActivity = Date.now();
    }
  }

  private async onShell(
    action: Exclude<SimAction, 'Identify' | 'Create'>,
    res: http.ServerResponse,
    req: http.IncomingMessage,
    messageId: string,
    user: string,
    shell: SimShell,
    bodyEl: XmlElement,
    header: XmlElement,
  ): Promise<void> {
    switch (action) {
      case 'Command':
        return this.command(res, messageId, shell, bodyEl);
      case 'Send':
        return this.sendInput(res, messageId, shell, bodyEl);
      case 'Receive':
        return this.receive(res, req, messageId, shell, bodyEl, header);
      case 'Signal':
        return this.signal(res, messageId, shell, bodyEl);
      case 'Delete':
        for (const command of shell.commands.values()) command.terminate();
        this.shells.delete(shell.id);
        this.counters.openShells--;
        this.counters.shellsDeleted++;
        this.log({ action, user, shellId: shell.id });
        return this.send(res, responseEnvelope(`${ACTION.Delete}Response`, messageId, ''));
    }
  }

  private create(
    res: http.ServerResponse,
    req: http.IncomingMessage,
    messageId: string,
    user: string,
    header: XmlElement,
    body: XmlElement | undefined,
  ): void {
    if (this.openShellsOf(user) >= this.options.maxShellsPerUser) {
      return this.quotaFault(res, messageId, user, 'Create', FAULTS.maxShells(this.options.maxShellsPerUser));
    }
    const asked = parseDuration(body && findFirst(body, 'IdleTimeOut')?.text);
    const idleTimeoutMs = Math.min(asked ?? this.options.defaultIdleTimeoutMs, this.options.maxIdleTimeoutMs);
    const id = randomUUID().toUpperCase();
    this.shells.set(id, { id, user, commands: new Map(), idleTimeoutMs, lastActivity: Date.now(), busy: 0 });
    this.counters.shellsCreated++;
    this.counters.openShells++;
    this.counters.peakOpenShells = Math.max(this.counters.peakOpenShells, this.counters.openShells);
    const codepage = header.children
      .find((c) => c.name === 'OptionSet')
      ?.children.find((o) => o.attrs.Name === 'WINRS_CODEPAGE')?.text;
    this.log({
      action: 'Create',
      user,
      shellId: id,
      detail: codepage === undefined ? undefined : `codepage=${codepage}`,
    });
    this.send(
      res,
      createResponse(
        messageId,
        this.url,
        id,
        `${this.options.hostName}\\${user}`,
        req.socket.remoteAddress ?? '',
      ),
    );
  }

  private command(res: http.ServerResponse, messageId: string, shell: SimShell, body: XmlElement): void {
    let operations = 0;
    for (const s of this.shells.values()) if (s.user === shell.user) operations += s.commands.size;
    if (operations >= this.options.maxConcurrentOperationsPerUser) {
      return this.quotaFault(
        res,
        messageId,
        shell.user,
        'Command',
        FAULTS.maxOperations(this.options.maxConcurrentOperationsPerUser),
      );
    }
    const line = findFirst(body, 'CommandLine');
    const commandText = (line && findFirst(line, 'Command'))?.text.trim() ?? '';
    const args = (line?.children ?? []).filter((c) => c.name === 'Arguments').map((a) => a.text);
    const parsed = parseCommandLine(commandText, args);
    const command = new SimCommand(randomUUID().toUpperCase(), this.options.outputHighWaterBytes);
    shell.commands.set(command.id, command);
    this.counters.commandsStarted++;
    this.log({
      action: 'Command',
      user: shell.user,
      shellId: shell.id,
      commandId: command.id,
      detail: parsed.kind,
    });
    if (parsed.kind !== 'bootstrap') this.run(shell, command, parsed);
    this.send(
      res,
      responseEnvelope(
        `${ACTION.Command}Response`,
        messageId,
        `<rsp:CommandResponse><rsp:CommandId>${command.id}</rsp:CommandId></rsp:CommandResponse>`,
      ),
    );
  }

  private sendInput(res: http.ServerResponse, messageId: string, shell: SimShell, body: XmlElement): void {
    const stream = findFirst(body, 'Stream');
    const command = shell.commands.get(stream?.attrs.CommandId ?? '');
    if (!stream || !command || command.stdinEnded) {
      return this.fault(
        res,
        messageId,
        FAULTS.invalidParameter('No running command with that CommandId accepts input.'),
      );
    }
    const data = Buffer.from(stream.text.trim(), 'base64');
    command.stdin.push(data);
    command.stdinBytes += data.length;
    this.counters.stdinBytes += data.length;
    const end = stream.attrs.End === 'true';
    this.log({
      action: 'Send',
      user: shell.user,
      shellId: shell.id,
      commandId: command.id,
      detail: end ? 'End' : undefined,
    });
    if (end) {
      command.stdinEnded = true;
      const script = Buffer.concat(command.stdin, command.stdinBytes).toString('utf8');
      command.stdin.length = 0;
      this.run(shell, command, { kind: 'powershell', script });
    }
    this.send(res, responseEnvelope(`${ACTION.Send}Response`, messageId, `<rsp:SendResponse/>`));
  }

  private async receive(
    res: http.ServerResponse,
    req: http.IncomingMessage,
    messageId: string,
    shell: SimShell,
    body: XmlElement,
    header: XmlElement,
  ): Promise<void> {
    const desired = findFirst(body, 'DesiredStream');
    const command = shell.commands.get(desired?.attrs.CommandId ?? '');
    if (!command)
      return this.fault(res, messageId, FAULTS.invalidParameter('No command with that CommandId.'));
    this.counters.receives++;
    const timeoutMs = Math.min(
      parseDuration(findFirst(header, 'OperationTimeout')?.text) ?? 60_000,
      this.options.maxTimeoutMs,
    );
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const ready = await command.waitForOutput(timeoutMs, gone.signal);
    if (gone.signal.aborted) return;
    if (this.shells.get(shell.id) !== shell) {
      // The service restarted while this Receive waited: the shell is gone.
      this.log({ action: 'Fault', user: shell.user, shellId: shell.id, detail: 'Receive:InvalidSelectors' });
      return this.fault(res, messageId, FAULTS.shellNotFound(shell.id));
    }
    if (!ready) {
      this.counters.timedOutFaults++;
      this.log({
        action: 'Receive',
        user: shell.user,
        shellId: shell.id,
        commandId: command.id,
        detail: 'TimedOut',
      });
      return this.fault(res, messageId, FAULTS.timedOut());
    }
    const clientEnvelope = Number(findFirst(header, 'MaxEnvelopeSize')?.text ?? 153_600);
    const envelopeBytes = Math.min(clientEnvelope, this.options.maxEnvelopeSizeKb * 1024);
    let budget = Math.floor((envelopeBytes - RESPONSE_OVERHEAD) / 4) * 3;
    if (this.options.maxReceiveBytes !== undefined) budget = Math.min(budget, this.options.maxReceiveBytes);
    const pieces = command.take(budget, this.options.streamChunkBytes, () => this.counters.utf8SplitChunks++);
    let streams = '';
    for (const piece of pieces) {
      this.counters.outputBytes += piece.data.length;
      streams += `<rsp:Stream Name="${piece.stream}" CommandId="${command.id}">${piece.data.toString('base64')}</rsp:Stream>`;
    }
    const finished = command.done && !command.hasOutput;
    if (finished) {
      streams +=
        `<rsp:Stream Name="stdout" CommandId="${command.id}" End="true"></rsp:Stream>` +
        `<rsp:Stream Name="stderr" CommandId="${command.id}" End="true"></rsp:Stream>`;
    }
    const state = finished
      ? `<rsp:CommandState CommandId="${command.id}" State="${COMMAND_STATE_DONE}"><rsp:ExitCode>${command.exitCode}</rsp:ExitCode></rsp:CommandState>`
      : `<rsp:CommandState CommandId="${command.id}" State="${COMMAND_STATE_RUNNING}"/>`;
    this.log({
      action: 'Receive',
      user: shell.user,
      shellId: shell.id,
      commandId: command.id,
      detail: finished ? `Done:${command.exitCode}` : undefined,
    });
    this.send(
      res,
      responseEnvelope(
        `${ACTION.Receive}Response`,
        messageId,
        `<rsp:ReceiveResponse>${streams}${state}</rsp:ReceiveResponse>`,
      ),
    );
  }

  private signal(res: http.ServerResponse, messageId: string, shell: SimShell, body: XmlElement): void {
    const signal = findFirst(body, 'Signal');
    const command = shell.commands.get(signal?.attrs.CommandId ?? '');
    if (!command)
      return this.fault(res, messageId, FAULTS.invalidParameter('No command with that CommandId.'));
    command.terminate();
    shell.commands.delete(command.id);
    this.counters.commandsSignalled++;
    const code = findFirst(signal!, 'Code')?.text.trim().replace(/^.*\//, '');
    this.log({ action: 'Signal', user: shell.user, shellId: shell.id, commandId: command.id, detail: code });
    this.send(res, responseEnvelope(`${ACTION.Signal}Response`, messageId, `<rsp:SignalResponse/>`));
  }

  /** Runs a command's program: cmd lines at once, PowerShell scripts through the ScriptHost. */
  private run(shell: SimShell, command: SimCommand, parsed: ParsedCommand): void {
    if (parsed.kind === 'cmd') {
      const r = runCmdLine(parsed.line, { hostName: this.options.hostName, user: shell.user });
      void command.write('stdout', r.stdout);
      void command.write('stderr', r.stderr);
      command.finish(r.exitCode);
      return;
    }
    if (parsed.kind !== 'powershell') return;
    const host = this.options.scriptHost;
    if (!host) {
      void command.write('stderr', 'This simulated proxy has no PowerShell script host.\r\n');
      command.finish(1);
      return;
    }
    const output = {
      stdout: (text: string) => command.write('stdout', text),
      stderr: (text: string) => command.write('stderr', text),
    };
    host(parsed.script, output, { proxyUser: shell.user, signal: command.abort.signal }).then(
      (code) => command.finish(code),
      async (error: unknown) => {
        if (!command.abort.signal.aborted) {
          // What powershell.exe writes over WinRM when a terminating error escapes the script.
          await command.write('stderr', clixmlError(error instanceof Error ? error.message : String(error)));
        }
        command.finish(1);
      },
    );
  }

  private quotaFault(
    res: http.ServerResponse,
    messageId: string | undefined,
    user: string,
    action: SimAction,
    spec: FaultSpec,
  ): void {
    this.counters.quotaFaults++;
    this.log({ action: 'Fault', user, detail: `${action}:QuotaLimit:${spec.wsmanCode}` });
    this.fault(res, messageId, spec);
  }

  private fault(res: http.ServerResponse, messageId: string | undefined, spec: FaultSpec): void {
    this.send(res, faultEnvelope(messageId, this.options.hostName, spec), 500);
  }

  private send(res: http.ServerResponse, xml: string, status = 200): void {
    const body = Buffer.from(xml, 'utf8');
    res.writeHead(status, {
      'Content-Type': 'application/soap+xml;charset=UTF-8',
      'Content-Length': body.length,
    });
    res.end(body);
  }
}

function clixmlError(message: string): string {
  const escaped = escapeXml(message).replace(/\r?\n/g, '_x000D__x000A_');
  return (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">' +
    `<S S="Error">${escaped}_x000D__x000A_</S></Objs>`
  );
}

function actionName(uri: string | undefined): SimAction | undefined {
  for (const name of ['Create', 'Delete', 'Command', 'Send', 'Receive', 'Signal'] as const) {
    if (uri === ACTION[name]) return name;
  }
  return undefined;
}

/** `PT20S`, `PT0.500S`, `PT1M` → milliseconds. */
function parseDuration(text: string | undefined): number | undefined {
  const m = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text?.trim() ?? '');
  if (!m) return undefined;
  return Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Creates and starts a simulated proxy. */
export async function startWinRmSimulator(input: WinRmSimulatorInput): Promise<WinRmSimulator> {
  return new WinRmSimulator(input).start();
}
