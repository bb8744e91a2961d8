import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { withRetries } from '../retry.js';
import type { Logger } from 'pino';
import { SyncError } from '../../domain/errors.js';
import { logger as defaultLogger } from '../../observability/logger.js';
import { bootstrapCommand } from './bootstrap.js';
import { createShellEnvelope, identifyEnvelope, sendChunkBytes, type Envelope } from './envelope.js';
import { WinRmError } from './errors.js';
import { Execution, type ExecuteOptions, type ExecutionResult, type OutputChunk } from './execution.js';
import {
  DEFAULT_PORT,
  winRmClientOptionsSchema,
  type WinRmClientInput,
  type WinRmClientOptions,
} from './options.js';
import { Shell, type ShellTransport } from './shell.js';
import type { ShellLedger } from './shell-ledger.js';
import { WsmanTransport } from './transport.js';
import { findFirst, type XmlElement } from './xml.js';
import type { ShellAction } from './wsman.js';
import { untilAborted } from '../../domain/abort.js';

/** Cleanup (Signal, Delete) gets its own time budget: it must run even after a deadline or an abort. */
const CLEANUP_TIMEOUT_MS = 15_000;

export interface WinRmClientDeps {
  logger?: Logger;
  /** Told of every shell opened and closed, so a later process can delete what this one leaves behind. */
  ledger?: ShellLedger;
  /** Recorded with each shell in the ledger (the tenant id): never a credential. */
  owner?: string;
  /** Name resolution for the connection (the allow-list's guarded lookup). */
  lookup?: LookupFunction;
}

export interface RunOptions extends ExecuteOptions {
  /** Sent to the command's stdin (in chunks, End on the last). */
  stdin?: string | Buffer;
}

/**
 * A WS-Management client for one PowerShell proxy: the WinRS cmd shell lifecycle over one keep-alive
 * agent. `execute` runs a generated PowerShell script (bootstrap on the command line, the script on
 * stdin); `run` runs any command; `openShell` gives the single operations.
 */
export class WinRmClient implements ShellTransport {
  readonly options: WinRmClientOptions;
  readonly proxy: string;
  readonly headerBase: ShellTransport['headerBase'];
  sendChunkBytes: number;
  private readonly transport: WsmanTransport;
  private readonly log: Logger;
  private readonly ledger: ShellLedger | undefined;
  private readonly owner: string | undefined;
  /** Shells created and not yet deleted (or found gone): what a shutdown deletes. */
  private readonly open = new Map<string, Shell>();
  private warned = false;

  constructor(input: WinRmClientInput, deps: WinRmClientDeps = {}) {
    this.options = winRmClientOptionsSchema.parse(input);
    const o = this.options;
    this.transport = new WsmanTransport({
      host: o.host,
      port: o.port ?? DEFAULT_PORT[o.scheme],
      https: o.scheme === 'https',
      username: o.username,
      password: o.password,
      ca: o.ca,
      rejectUnauthorized: o.rejectUnauthorized,
      maxSockets: o.maxSockets,
      maxResponseBytes: o.maxEnvelopeSize * 4 + 65_536,
      ...(deps.lookup ? { lookup: deps.lookup } : {}),
    });
    this.proxy = this.transport.proxy;
    this.headerBase = {
      to: this.transport.endpoint,
      maxEnvelopeSize: o.maxEnvelopeSize,
      operationTimeoutMs: o.operationTimeoutMs,
    };
    this.sendChunkBytes = sendChunkBytes(o.maxEnvelopeSize);
    this.log = (deps.logger ?? defaultLogger).child({ component: 'winrm', proxy: this.proxy });
    this.ledger = deps.ledger;
    this.owner = deps.owner;
  }

  /** A command's lines: on the caller's logger when it gives one (a sync run's), else the client's. */
  private logFor(options: { logger?: Logger }): Logger {
    return options.logger ? options.logger.child({ component: 'winrm', proxy: this.proxy }) : this.log;
  }

  /**
   * The transport's risks, said once, with the first command (so on the logger of the run that made
   * the client, not as a line of no run).
   */
  private warnOnce(log: Logger): void {
    if (this.warned) return;
    this.warned = true;
    const o = this.options;
    if (o.scheme === 'http') {
      log.warn(
        'WinRM over HTTP with Basic authentication: the proxy account password and all output cross the network unencrypted; prefer HTTPS (5986)',
      );
    }
    if (o.scheme === 'https' && !o.rejectUnauthorized) {
      log.warn('WinRM over HTTPS without certificate verification: give the proxy CA bundle instead');
    }
  }

  /** Runs a generated PowerShell script through the bootstrap: the script goes to stdin, so any length works. */
  execute(script: string, options: ExecuteOptions = {}): Execution {
    const { command, args } = bootstrapCommand();
    return this.run(command, args, { ...options, stdin: script });
  }

  /** Runs one command in a fresh shell; the shell is always signalled and deleted at the end. */
  run(command: string, args: readonly string[], options: RunOptions = {}): Execution {
    return new Execution(() => this.stream(command, args, options));
  }

  /** The generator behind `run` (the pool wraps it to fail over between proxies). */
  async *stream(
    command: string,
    args: readonly string[],
    options: RunOptions = {},
  ): AsyncGenerator<OutputChunk, ExecutionResult, undefined> {
    const started = performance.now();
    const log = this.logFor(options);
    this.warnOnce(log);
    const deadlineAt = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    let timer: NodeJS.Timeout | undefined;
    if (options.deadlineMs !== undefined) {
      // Aborts whatever request is in flight when the deadline passes; cleanup then still runs.
      const deadline = new AbortController();
      timer = setTimeout(() => deadline.abort(this.deadlineError(options.deadlineMs!)), options.deadlineMs);
      timer.unref();
      signals.push(deadline.signal);
    }
    const signal = signals.length === 0 ? undefined : AbortSignal.any(signals);
    const stdin = typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin;
    const state = {
      yielded: false,
      stdoutBytes: 0,
      stderrBytes: 0,
      maxOutputBytes: options.maxOutputBytes ?? Infinity,
    };

    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const exitCode = yield* this.once(
            command,
            args,
            stdin,
            { signal, deadlineAt, deadlineMs: options.deadlineMs },
            state,
            log,
          );
          return {
            exitCode,
            proxy: this.proxy,
            stdoutBytes: state.stdoutBytes,
            stderrBytes: state.stderrBytes,
            attempts: attempt,
            durationMs: performance.now() - started,
          };
        } catch (error) {
          const lost =
            error instanceof WinRmError &&
            (error.code === 'WINRM_SHELL_NOT_FOUND' || error.code === 'PROXY_UNAVAILABLE') &&
            !signal?.aborted;
          if (lost && !state.yielded && attempt < this.options.attempts) {
            log.info(
              { code: error.code, attempt },
              'shell lost before any output; running the command again in a new shell',
            );
            continue;
          }
          throw error;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async *once(
    command: string,
    args: readonly string[],
    stdin: Buffer | undefined,
    limits: { signal?: AbortSignal; deadlineAt: number; deadlineMs?: number },
    state: { yielded: boolean; stdoutBytes: number; stderrBytes: number; maxOutputBytes: number },
    log: Logger,
  ): AsyncGenerator<OutputChunk, number, undefined> {
    const { signal } = limits;
    const shell = await this.openShell(signal, log);
    let commandId: string | undefined;
    let shellLost = false;
    try {
      commandId = await this.withQuotaRetry('Command', signal, log, () =>
        shell.command(command, args, signal),
      );
      if (stdin !== undefined) await shell.send(commandId, stdin, signal);
      let emptyInARow = 0;
      for (;;) {
        const remaining = limits.deadlineAt - Date.now();
        if (remaining <= 0) throw this.deadlineError(limits.deadlineMs ?? 0);
        const asked = performance.now();
        const r = await shell.receive(
          commandId,
          Math.max(100, Math.min(this.options.operationTimeoutMs, remaining)),
          signal,
        );
        if (r.chunks.length === 0 && !r.done) {
          // Nothing yet. A real server held this Receive up to its OperationTimeout; one that answered
          // at once (empty, or a TimedOut fault) would have us spin: wait out the rest of the backoff.
          const step = Math.min(
            this.options.maxEmptyReceiveWaitMs,
            this.options.emptyReceiveWaitMs * 2 ** Math.min(emptyInARow, 30),
          );
          emptyInARow++;
          const wait = Math.min(step - (performance.now() - asked), limits.deadlineAt - Date.now());
          if (wait > 0) await this.pause(wait, signal);
          continue;
        }
        emptyInARow = 0;
        for (const chunk of r.chunks) {
          if (chunk.stream === 'stdout') state.stdoutBytes += chunk.data.length;
          else state.stderrBytes += chunk.data.length;
          if (state.stdoutBytes + state.stderrBytes > state.maxOutputBytes) {
            throw new WinRmError(
              'OUTPUT_TOO_LARGE',
              `the command's output on PowerShell proxy ${this.proxy} exceeded ${state.maxOutputBytes} bytes; it was stopped. ` +
                `Raise the output limit if the tenant is really that large.`,
              { proxy: this.proxy },
            );
          }
          state.yielded = true;
          yield chunk;
        }
        if (r.done) return r.exitCode!;
      }
    } catch (error) {
      shellLost = error instanceof WinRmError && error.code === 'WINRM_SHELL_NOT_FOUND';
      if (shellLost) this.shellGone(shell.id, log);
      throw error;
    } finally {
      if (!shellLost) await this.cleanup(shell, commandId, log);
    }
  }

  /** Signal terminate, then Delete; failures are logged, never thrown over the real outcome. */
  private async cleanup(shell: Shell, commandId: string | undefined, log: Logger): Promise<void> {
    const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
    if (commandId !== undefined) {
      await shell
        .signal(commandId, signal)
        .catch((error: unknown) => this.logCleanup('Signal', shell, error, log));
    }
    await shell.delete(signal).catch((error: unknown) => this.logCleanup('Delete', shell, error, log));
  }

  private logCleanup(action: string, shell: Shell, error: unknown, log: Logger = this.log): void {
    const code = error instanceof SyncError ? error.code : undefined;
    if (code === 'WINRM_SHELL_NOT_FOUND') return; // already gone: nothing left to clean up
    log.warn(
      { shellId: shell.id, code, err: error instanceof Error ? error.message : String(error) },
      `${action} failed while cleaning up a shell`,
    );
  }

  /** Creates a cmd shell (UTF-8 code page, no profile), waiting out quota faults. */
  async openShell(signal?: AbortSignal, log: Logger = this.log): Promise<Shell> {
    return this.withQuotaRetry('Create', signal, log, async () => {
      const envelope = createShellEnvelope(this.headerBase, {
        codepage: this.options.codepage,
        noProfile: true,
        idleTimeoutMs: this.options.idleTimeoutMs,
      });
      const response = await this.exchange('Create', envelope, signal, this.options.operationTimeoutMs);
      const selector = findFirst(response, 'Selector');
      const id = (
        selector?.attrs.Name === 'ShellId' ? selector.text : findFirst(response, 'ShellId')?.text
      )?.trim();
      if (!id) {
        throw new WinRmError(
          'WINRM_FAULT',
          `PowerShell proxy ${this.proxy} answered Create without a ShellId`,
          { proxy: this.proxy },
        );
      }
      const shell = new Shell(this, id);
      this.open.set(id, shell);
      // Recorded before any command runs in it: a worker killed from here on leaves a shell its
      // successor can find. A ledger that cannot be written costs only that (the idle timeout remains).
      // A run told to stop does not wait for a ledger whose Redis does not answer: it gets the shell
      // back at once, and its caller, seeing the signal, deletes it.
      const recorded = this.ledger?.opened({
        proxy: this.proxy,
        shellId: id,
        owner: this.owner,
        openedAt: Date.now(),
      });
      if (recorded)
        await untilAborted(recorded, signal).catch((error: unknown) => {
          if (!signal?.aborted) this.logLedger('record', id, error, log);
        });
      return shell;
    });
  }

  /** Ids of the shells this client has open now. */
  openShellIds(): string[] {
    return [...this.open.keys()];
  }

  shellGone(shellId: string, log: Logger = this.log): void {
    if (!this.open.delete(shellId)) return;
    this.ledger
      ?.closed(this.proxy, shellId)
      .catch((error: unknown) => this.logLedger('forget', shellId, error, log));
  }

  /**
   * Deletes every shell this client still has open (their commands end with them): the shutdown hook,
   * for runs that did not stop in time. Returns how many were deleted.
   */
  async deleteOpenShells(): Promise<number> {
    const results = await Promise.all(
      [...this.open.values()].map((shell) =>
        shell.delete(AbortSignal.timeout(CLEANUP_TIMEOUT_MS)).then(
          () => 1,
          (error: unknown) => {
            this.logCleanup('Delete', shell, error);
            return 0;
          },
        ),
      ),
    );
    return results.reduce((n: number, r) => n + r, 0);
  }

  /**
   * Deletes a shell by id, one this process did not open (a dead worker's leftover). Resolves
   * `deleted`, or `gone` when the proxy no longer knows it (idle timeout, restart).
   */
  async deleteShell(shellId: string, signal?: AbortSignal): Promise<'deleted' | 'gone'> {
    try {
      await new Shell(this, shellId).delete(signal ?? AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
      return 'deleted';
    } catch (error) {
      if (error instanceof WinRmError && error.code === 'WINRM_SHELL_NOT_FOUND') return 'gone';
      throw error;
    }
  }

  private logLedger(what: string, shellId: string, error: unknown, log: Logger): void {
    log.warn(
      { shellId, err: error instanceof Error ? error.message : String(error) },
      `could not ${what} the shell in the shell ledger`,
    );
  }

  /** WS-Management Identify with our credentials: proves the proxy is up and accepts us. */
  async identify(signal?: AbortSignal): Promise<{ vendor?: string; version?: string }> {
    const response = await this.transport.exchange({
      action: 'Identify',
      body: identifyEnvelope(),
      timeoutMs: this.options.networkDelayMs,
      signal,
    });
    return {
      vendor: findFirst(response, 'ProductVendor')?.text,
      version: findFirst(response, 'ProductVersion')?.text,
    };
  }

  async exchange(
    action: ShellAction,
    envelope: Envelope,
    signal: AbortSignal | undefined,
    operationTimeoutMs: number,
  ): Promise<XmlElement> {
    const response = await this.transport.exchange({
      action,
      body: envelope.xml,
      timeoutMs: operationTimeoutMs + this.options.networkDelayMs,
      signal,
    });
    const relatesTo = findFirst(response, 'RelatesTo')?.text.trim();
    if (relatesTo === undefined || relatesTo.toLowerCase() !== envelope.messageId.toLowerCase()) {
      throw new WinRmError(
        'WINRM_FAULT',
        `PowerShell proxy ${this.proxy} answered ${action} with a response to another message (RelatesTo ${relatesTo ?? 'missing'})`,
        { proxy: this.proxy },
      );
    }
    return response;
  }

  close(): void {
    this.transport.close();
  }

  /** `operation`, tried again on quota faults (shells still closing) with the one retry layer. */
  private async withQuotaRetry<T>(
    action: string,
    signal: AbortSignal | undefined,
    log: Logger,
    operation: () => Promise<T>,
  ): Promise<T> {
    let lastQuota: unknown;
    try {
      return await withRetries(operation, {
        attempts: this.options.quotaRetries + 1,
        // Waits of about 0.75–1.5 × quotaBackoffMs, doubling; unbounded like the quota retries.
        baseDelayMs: this.options.quotaBackoffMs * 1.5,
        maxDelayMs: Number.POSITIVE_INFINITY,
        ...(signal ? { signal } : {}),
        classify: (error) => {
          if (!(error instanceof WinRmError && error.code === 'WINRM_QUOTA')) return 'stop';
          lastQuota = error;
          return 'backoff';
        },
        onRetry: ({ attempt }) =>
          log.info(
            { action, retry: attempt },
            'WinRM quota exhausted on the proxy; waiting for shells to close',
          ),
      });
    } catch (error) {
      // Cancelled (or past the deadline) while waiting out a quota fault: say why, else the fault.
      if (signal?.aborted && lastQuota !== undefined)
        throw signal.reason instanceof SyncError ? signal.reason : lastQuota;
      throw error;
    }
  }

  /** Waits, unless the command is cancelled or its deadline passes first (then that is thrown). */
  private async pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    await sleep(ms, undefined, { signal }).catch((error: unknown) => {
      const reason: unknown = signal?.reason;
      if (reason instanceof SyncError) throw reason;
      if (!signal?.aborted) throw error;
      throw new WinRmError('CANCELLED', `Receive on PowerShell proxy ${this.proxy} was cancelled`, {
        proxy: this.proxy,
        cause: reason,
      });
    });
  }

  private deadlineError(deadlineMs: number): WinRmError {
    return new WinRmError(
      'WINRM_TIMEOUT',
      `the command on PowerShell proxy ${this.proxy} did not finish within its ${deadlineMs} ms deadline and was terminated`,
      { proxy: this.proxy, retryable: true },
    );
  }
}
