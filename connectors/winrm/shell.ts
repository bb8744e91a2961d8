import {
  commandEnvelope,
  deleteShellEnvelope,
  receiveEnvelope,
  sendEnvelope,
  signalEnvelope,
  type Envelope,
} from './envelope.js';
import { WinRmError } from './errors.js';
import type { OutputChunk } from './execution.js';
import { COMMAND_STATE_DONE, SIGNAL, type ShellAction } from './wsman.js';
import { findAll, findFirst, type XmlElement } from './xml.js';

/** What the client gives a shell: one envelope exchange, and the header values it needs. */
export interface ShellTransport {
  readonly proxy: string;
  readonly headerBase: { to: string; maxEnvelopeSize: number; operationTimeoutMs: number };
  exchange(
    action: ShellAction,
    envelope: Envelope,
    signal: AbortSignal | undefined,
    operationTimeoutMs: number,
  ): Promise<XmlElement>;
  /** Bytes of stdin per Send; shrinks when the proxy refuses an envelope as too large. */
  sendChunkBytes: number;
  /** Told when a shell is known to be gone (deleted, or "shell not found"): it is no longer open. */
  shellGone?(shellId: string): void;
}

export interface ReceiveResult {
  chunks: OutputChunk[];
  /** True when the server said CommandState/Done (exitCode is then set). */
  done: boolean;
  exitCode?: number;
  /** The server held the Receive for OperationTimeout with no output: ask again. */
  timedOut: boolean;
}

/** The smallest Send we shrink to before giving up on an envelope-size refusal. */
const MIN_SEND_BYTES = 1024;

/** One WinRS cmd shell on one proxy: the individual WS-Management operations, nothing more. */
export class Shell {
  constructor(
    private readonly t: ShellTransport,
    readonly id: string,
  ) {}

  get proxy(): string {
    return this.t.proxy;
  }

  /** Starts a command; resolves with its CommandId. */
  async command(command: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
    const envelope = commandEnvelope(this.t.headerBase, this.id, command, args);
    const response = await this.t.exchange('Command', envelope, signal, this.t.headerBase.operationTimeoutMs);
    const commandId = findFirst(response, 'CommandId')?.text.trim();
    if (!commandId) throw this.malformed('Command', 'no CommandId');
    return commandId;
  }

  /** Sends stdin in chunks that fit the envelope budget; the last carries End="true". */
  async send(commandId: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    let offset = 0;
    do {
      const size = this.t.sendChunkBytes;
      const end = offset + size >= data.length;
      const piece = data.subarray(offset, offset + size);
      try {
        await this.t.exchange(
          'Send',
          sendEnvelope(this.t.headerBase, this.id, commandId, piece, end),
          signal,
          this.t.headerBase.operationTimeoutMs,
        );
      } catch (error) {
        if (
          error instanceof WinRmError &&
          error.code === 'WINRM_ENVELOPE_TOO_LARGE' &&
          size > MIN_SEND_BYTES
        ) {
          // The proxy's MaxEnvelopeSizekb is smaller than we assumed: halve the Sends and resend this piece.
          this.t.sendChunkBytes = Math.max(MIN_SEND_BYTES, Math.floor(size / 2));
          continue;
        }
        throw error;
      }
      offset += piece.length;
    } while (offset < data.length);
  }

  /** One Receive. A TimedOut fault is not an error here: it comes back as `timedOut`. */
  async receive(commandId: string, operationTimeoutMs: number, signal?: AbortSignal): Promise<ReceiveResult> {
    const header = { ...this.t.headerBase, operationTimeoutMs };
    let response: XmlElement;
    try {
      response = await this.t.exchange(
        'Receive',
        receiveEnvelope(header, this.id, commandId),
        signal,
        operationTimeoutMs,
      );
    } catch (error) {
      if (error instanceof WinRmError && error.code === 'WINRM_TIMEOUT' && error.fault !== undefined) {
        return { chunks: [], done: false, timedOut: true };
      }
      throw error;
    }
    const chunks: OutputChunk[] = [];
    for (const stream of findAll(response, 'Stream')) {
      const name = stream.attrs.Name;
      const text = stream.text.trim();
      if (text === '' || (name !== 'stdout' && name !== 'stderr')) continue;
      chunks.push({ stream: name, data: Buffer.from(text, 'base64') });
    }
    const state = findFirst(response, 'CommandState');
    const done = state?.attrs.State === COMMAND_STATE_DONE;
    let exitCode: number | undefined;
    if (done) {
      const text = findFirst(state, 'ExitCode')?.text.trim();
      exitCode = text === undefined || text === '' ? undefined : Number(text);
      if (exitCode === undefined || !Number.isInteger(exitCode))
        throw this.malformed('Receive', 'Done without ExitCode');
      // Windows exit codes are unsigned 32-bit; show negative NTSTATUS-like values as such.
      if (exitCode > 0x7fffffff) exitCode -= 0x100000000;
    }
    return { chunks, done, exitCode, timedOut: false };
  }

  /** Signals the command (terminate by default): required after Done, and how a command is stopped. */
  async signal(commandId: string, signal?: AbortSignal, code: string = SIGNAL.terminate): Promise<void> {
    await this.t.exchange(
      'Signal',
      signalEnvelope(this.t.headerBase, this.id, commandId, code),
      signal,
      this.t.headerBase.operationTimeoutMs,
    );
  }

  /** Deletes the shell (its commands end with it). A shell the proxy no longer knows counts as gone too. */
  async delete(signal?: AbortSignal): Promise<void> {
    try {
      await this.t.exchange(
        'Delete',
        deleteShellEnvelope(this.t.headerBase, this.id),
        signal,
        this.t.headerBase.operationTimeoutMs,
      );
    } catch (error) {
      if (error instanceof WinRmError && error.code === 'WINRM_SHELL_NOT_FOUND') this.t.shellGone?.(this.id);
      throw error;
    }
    this.t.shellGone?.(this.id);
  }

  private malformed(action: string, what: string): WinRmError {
    return new WinRmError('WINRM_FAULT', `PowerShell proxy ${this.t.proxy} answered ${action} with ${what}`, {
      proxy: this.t.proxy,
    });
  }
}
