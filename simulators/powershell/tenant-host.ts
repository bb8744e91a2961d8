/**
 * The simulated tenant behind the simulated PowerShell proxy: a ScriptHost (script-host.ts) that
 * interprets the scripts the engine generates — parsing them as PowerShell, binding the credential
 * and certificate literals of the Connect-* calls and checking them against the simulated tenant,
 * then answering each cmdlet from the shared data set and writing what powershell.exe would write:
 * JSON Lines on stdout, CLIXML on stderr, exit code 1 when an error escapes the script.
 *
 * The script's own helper functions (Invoke-M365Kind, Read-M365Pages, ...) are defined in the script
 * and run here by equivalent code; a script that calls one without defining it fails as PowerShell
 * would. Statements the host cannot interpret fail loudly instead of being skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Dataset } from '../dataset.js';
import type { ScriptContext, ScriptHost, ScriptOutput } from './script-host.js';
import type { SessionCounter } from './session-counter.js';
import { clixmlErrorDocument, clixmlProgressDocument, clixmlWarningDocument } from './clixml-writer.js';
import {
  PsParseError,
  parseScript,
  type Command,
  type Expr,
  type Pipeline,
  type Statement,
} from './ps-parser.js';
import {
  Opaque,
  ProcessDeath,
  PsCredential,
  PsDate,
  PsEnum,
  PsError,
  Scope,
  ScriptBlockValue,
  SecureStr,
  commandNotFound,
  type PsObject,
} from './ps-values.js';
import { CMDLETS, checkParameters, type Account, type BoundArgs, type Session } from './tenant-cmdlets.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';

const kindFault = z.object({
  /** Objects written before the kind fails with an error. */
  afterObjects: z.number().int().nonnegative(),
  message: z.string().optional(),
});

export const tenantFaultsSchema = z.object({
  /** Service-account sign-in always needs MFA (AADSTS50076). */
  signIn: z.enum(['mfa_required']).optional(),
  /** Fail these kinds after N objects: the script writes an `err` line and goes on. */
  failKinds: z.record(z.string(), kindFault).optional(),
  /** The process dies after this many objects in all (CLIXML error on stderr, exit code 1, no `done`). */
  crashAfterObjects: z.number().int().nonnegative().optional(),
  /** Progress records ("Preparing modules for first use.") written to stderr first. */
  progressRecords: z.number().int().nonnegative().optional(),
  /** Each object gains a `Padding` property of about this many UTF-8 bytes (multi-byte text). */
  padBytes: z.number().int().nonnegative().optional(),
  /** Each object is written this many times (huge output from a small data set). */
  repeatObjects: z.number().int().positive().optional(),
  /** Silence before the first byte of output (e.g. to make WinRM Receive time out). */
  startDelayMs: z.number().int().nonnegative().optional(),
  /** Delay before each object line for this script (overrides the host's `latencyMs`): a slow tenant. */
  latencyMs: z.number().int().nonnegative().optional(),
});
export type TenantFaults = z.infer<typeof tenantFaultsSchema>;

const account = z.object({ username: z.string().min(1), password: z.string() });

export const tenantHostOptionsSchema = z.object({
  teamsAccounts: z.array(account).default([]),
  certificateThumbprints: z.array(z.string()).default([]),
  /** When set, the Teams side sits behind an authenticating HTTP proxy with these accounts. */
  proxyCredentials: z.array(account).optional(),
  faults: tenantFaultsSchema.default({}),
  /** Delay before each object line. */
  latencyMs: z.number().int().nonnegative().default(0),
  /** Pacing: each kind's objects come out at most this many per second (a real cmdlet's rate). */
  objectsPerSecond: z.number().positive().optional(),
  /** Windows PowerShell 5.1 (default) writes dates as \/Date(ms)\/; 7 writes ISO-8601. */
  psVersion: z.enum(['5.1', '7']).default('5.1'),
});

export interface TenantHostOptions extends z.input<typeof tenantHostOptionsSchema> {
  /** The data set, read at the start of every script (so a test can change the tenant between runs). */
  dataset: Dataset | (() => Dataset);
  /** Sees every script received (tests check what the engine sent). Scripts hold secrets: never log them. */
  logScripts?: (script: string) => void;
  /** Told each -Filter a cmdlet receives, exactly as bound (a literal string, or not). */
  onFilter?: (command: string, filter: unknown) => void;
  /** Faults may change between runs: a function is read at the start of every script. */
  faultsRef?: () => TenantFaults;
  /** Counts concurrent sessions per sign-in account, from each Connect-* to the end of its script. */
  sessions?: SessionCounter;
}

/** Stdout is written in batches of about this size (or at once when output is slowed). */
const BATCH = 16 * 1024;
const PAD_TEXT = 'Zoë 日本語 Ünal 😀 '; // 1-, 2-, 3- and 4-byte UTF-8 characters

class Writer {
  private buffer = '';
  constructor(
    private readonly output: ScriptOutput,
    private readonly signal: AbortSignal,
  ) {}

  async line(text: string, flushNow = false): Promise<void> {
    this.buffer += `${text}\r\n`;
    if (flushNow || this.buffer.length >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.signal.aborted) throw new ProcessDeath('terminated', 1);
    if (this.buffer === '') return;
    const text = this.buffer;
    this.buffer = '';
    await this.output.stdout(text);
  }
}

/** ConvertTo-Json -Compress as Windows PowerShell 5.1 (or 7) writes it. */
export function convertToJson(value: unknown, psVersion: '5.1' | '7'): string {
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof PsDate) return psVersion === '5.1' ? `/Date(${v.ms})/` : new Date(v.ms).toISOString();
    if (v instanceof PsEnum) return v.value;
    if (v instanceof SecureStr) return 'System.Security.SecureString';
    return v;
  });
  return psVersion === '5.1' ? json.replace(/"\/Date\((-?\d+)\)\/"/g, '"\\/Date($1)\\/"') : json;
}

class Interpreter {
  readonly functions = new Set<string>();
  objectsWritten = 0;

  constructor(
    readonly session: Session,
    readonly writer: Writer,
    readonly output: ScriptOutput,
    readonly options: z.output<typeof tenantHostOptionsSchema>,
    readonly faults: TenantFaults,
  ) {}

  evaluate(expr: Expr, scope: Scope): unknown {
    switch (expr.t) {
      case 'str':
        if (expr.expandable) throw unsupported('an expandable (double-quoted) string with $');
        return expr.value;
      case 'num':
        return expr.value;
      case 'word':
        return expr.value;
      case 'var': {
        const name = expr.name.toLowerCase();
        if (name === 'null') return null;
        if (name === 'true') return true;
        if (name === 'false') return false;
        return scope.get(expr.name) ?? null;
      }
      case 'array':
        return expr.items.map((i) => this.evaluate(i, scope));
      case 'block':
        return new ScriptBlockValue(expr, scope);
      case 'sub':
        return collect([...this.pipeline(expr.pipeline, scope)]);
      case 'other':
        return new Opaque(expr.text);
    }
  }

  bind(command: Command, scope: Scope): BoundArgs {
    const named = new Map<string, unknown>();
    const positional: unknown[] = [];
    for (const a of command.args) {
      if (a.t === 'param')
        named.set(a.name.toLowerCase(), a.value === undefined ? true : this.evaluate(a.value, scope));
      else positional.push(this.evaluate(a.value, scope));
    }
    return { named, positional };
  }

  *pipeline(p: Pipeline, scope: Scope): Iterable<unknown> {
    let stream: Iterable<unknown> | undefined;
    if (p.head) {
      const v = this.evaluate(p.head, scope);
      stream = Array.isArray(v) ? v : v === null ? [] : [v];
    }
    for (const command of p.commands) stream = this.invoke(command, scope, stream);
    if (stream) yield* stream;
  }

  /** Runs a script block's statements, yielding what they output. */
  *runBlock(block: ScriptBlockValue, args: unknown[] = [], dollarUnder?: unknown): Iterable<unknown> {
    const scope = new Scope(block.scope);
    block.block.params.forEach((name, i) => scope.set(name, args[i] ?? null));
    if (dollarUnder !== undefined) scope.set('_', dollarUnder);
    for (const statement of block.block.body) yield* this.statement(statement, scope);
  }

  *statement(s: Statement, scope: Scope): Iterable<unknown> {
    switch (s.t) {
      case 'function':
        this.functions.add(s.name.toLowerCase());
        return;
      case 'assign': {
        const value = collect([...this.pipeline(s.value, scope)]);
        if (s.variable && s.variable.toLowerCase() !== 'null') scope.set(s.variable, value);
        return;
      }
      case 'static':
        if (/^\[Console\]::(Output|Input)Encoding$/i.test(s.target)) return;
        throw unsupported(`setting ${s.target}`);
      case 'pipeline':
        yield* this.pipeline(s.pipeline, scope);
        return;
      case 'other':
        throw unsupported(`the statement "${s.text.split('\n')[0]}"`);
    }
  }

  invoke(command: Command, scope: Scope, input: Iterable<unknown> | undefined): Iterable<unknown> {
    const name = command.name.toLowerCase();
    const helper = HELPERS[name];
    if (helper) {
      if (!this.functions.has(name)) throw commandNotFound(command.name);
      return helper(this, this.bind(command, scope), input);
    }
    const cmdlet = CMDLETS[name];
    if (!cmdlet) throw commandNotFound(command.name);
    const args = this.bind(command, scope);
    checkParameters(command.name, cmdlet, args);
    return cmdlet.run(args, this.session, input);
  }

  /** Invoke-M365Kind: the JSON Lines of one kind, in its own try/catch. */
  async kind(kind: string, read: ScriptBlockValue): Promise<void> {
    let count = 0;
    const fault = this.faults.failKinds?.[kind];
    const copies = this.faults.repeatObjects ?? 1;
    const latencyMs = this.faults.latencyMs ?? this.options.latencyMs;
    const slow = latencyMs > 0;
    const rate = this.options.objectsPerSecond;
    const started = performance.now();
    try {
      for (const o of this.runBlock(read)) {
        if (rate) {
          // Paced like a real cmdlet: object n is due n/rate seconds after the kind started.
          const ahead = started + (count * 1000) / rate - performance.now();
          if (ahead >= 10) await sleep(ahead);
        }
        for (let copy = 0; copy < copies; copy++) {
          if (fault && count >= fault.afterObjects) {
            throw new PsError(
              fault.message ?? 'The remote server returned an error: (503) Server Unavailable.',
              'NotSpecified: (:) [], WebException',
              'System.Net.WebException',
            );
          }
          if (
            this.faults.crashAfterObjects !== undefined &&
            this.objectsWritten >= this.faults.crashAfterObjects
          ) {
            throw new ProcessDeath("Exception of type 'System.OutOfMemoryException' was thrown.", 1);
          }
          if (slow) await sleep(latencyMs);
          await this.writer.line(
            `{"t":"obj","kind":"${kind}","o":${convertToJson(this.pad(o), this.options.psVersion)}}`,
            slow,
          );
          count++;
          this.objectsWritten++;
        }
      }
      await this.writer.line(`{"t":"end","kind":"${kind}","count":${count}}`, slow);
    } catch (error) {
      if (!(error instanceof PsError)) throw error;
      await this.writer.line(
        `{"t":"err","kind":"${kind}","count":${count},"message":${JSON.stringify(error.message)}}`,
        slow,
      );
    }
    await this.flushWarnings();
  }

  private pad(o: unknown): unknown {
    const bytes = this.faults.padBytes;
    if (!bytes || o === null || typeof o !== 'object') return o;
    const unit = Buffer.byteLength(PAD_TEXT);
    return { ...(o as PsObject), Padding: PAD_TEXT.repeat(Math.max(1, Math.round(bytes / unit))) };
  }

  async flushWarnings(): Promise<void> {
    if (this.session.warnings.length === 0) return;
    await this.writer.flush();
    await this.output.stderr(clixmlWarningDocument(this.session.warnings.splice(0)));
  }
}

type Helper = (it: Interpreter, args: BoundArgs, input: Iterable<unknown> | undefined) => Iterable<unknown>;

function named(args: BoundArgs, name: string, position: number): unknown {
  return args.named.get(name.toLowerCase()) ?? args.positional[position];
}

function block(value: unknown, what: string): ScriptBlockValue {
  if (!(value instanceof ScriptBlockValue)) throw unsupported(`${what} without a script block`);
  return value;
}

/** The host's equivalents of the helper functions the generated scripts define. */
const HELPERS: Record<string, Helper> = {
  'write-m365line': (it, args) => {
    pendingLines.set(it, [...(pendingLines.get(it) ?? []), String(named(args, 'Line', 0) ?? '')]);
    return [];
  },
  'invoke-m365kind': (it, args) => {
    pendingKinds.set(it, [
      ...(pendingKinds.get(it) ?? []),
      { kind: String(named(args, 'Kind', 0)), read: block(named(args, 'Read', 1), 'Invoke-M365Kind') },
    ]);
    return [];
  },
  'read-m365pages': function* (it, args) {
    const pageSize = Number(named(args, 'PageSize', 0));
    const page = block(named(args, 'Page', 1), 'Read-M365Pages');
    if (!Number.isInteger(pageSize) || pageSize < 1) throw unsupported('Read-M365Pages without a page size');
    for (let skip = 0, guard = 0; guard < 1_000_000; guard++) {
      const items = [...it.runBlock(page, [pageSize, skip])];
      yield* items;
      if (items.length < pageSize) return;
      skip += items.length;
    }
  },
  'read-m365teamsuser': (it, args) => {
    const bound = new Map([['properties', named(args, 'Properties', 0)]]);
    const filter = named(args, 'Filter', 1);
    if (filter !== undefined && filter !== null && filter !== '') bound.set('filter', filter);
    return CMDLETS['get-csonlineuser']!.run({ named: bound, positional: [] }, it.session, undefined);
  },
  'read-m365policy': function* (it, args) {
    const type = String(named(args, 'PolicyType', 0));
    for (const o of it.runBlock(block(named(args, 'Read', 1), 'Read-M365Policy'))) {
      const p = o as PsObject;
      yield { ...p, PolicyType: type, PolicyKey: `${type}:${String(p.Identity)}` };
    }
  },
  'convertto-m365pstnusage': function* (_it, _args, input) {
    for (const o of input ?? []) {
      const usage = (o as PsObject).Usage;
      for (const u of Array.isArray(usage) ? usage : usage == null ? [] : [usage]) yield { Usage: String(u) };
    }
  },
  'set-m365webproxy': (it, args) => {
    const credential = named(args, 'Credential', 0);
    if (credential !== undefined && !(credential instanceof PsCredential))
      throw unsupported('a proxy credential that is not a PSCredential');
    it.session.proxyCredential = credential;
    return [];
  },
};

/**
 * Invoke-M365Kind and Write-M365Line write output, which is asynchronous (back-pressure), while the
 * statement walk is synchronous: the walk records them here and the top level performs them in order.
 */
const pendingKinds = new WeakMap<Interpreter, { kind: string; read: ScriptBlockValue }[]>();
const pendingLines = new WeakMap<Interpreter, string[]>();

function collect(values: unknown[]): unknown {
  if (values.length === 0) return null;
  return values.length === 1 ? values[0] : values;
}

function unsupported(what: string): PsError {
  return new PsError(
    `The simulated PowerShell proxy does not interpret ${what}.`,
    'NotImplemented: (:) [], NotSupportedException',
    'SimulatorUnsupported',
  );
}

function formatForConsole(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object') return String(value);
  return Object.entries(value as PsObject)
    .map(([k, v]) => `${k} : ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\r\n');
}

function resolveDataset(d: TenantHostOptions['dataset']): Dataset {
  return typeof d === 'function' ? d() : d;
}

/** The simulated tenant's script runner, for the simulated WinRM server. */
export function createTenantScriptHost(input: TenantHostOptions): ScriptHost {
  const options = tenantHostOptionsSchema.parse(input);
  const accounts: Account[] = options.teamsAccounts;

  const runOne = async (
    script: string,
    output: ScriptOutput,
    context: ScriptContext,
    ends: (() => void)[],
  ): Promise<number> => {
    input.logScripts?.(script);
    const faults = input.faultsRef ? tenantFaultsSchema.parse(input.faultsRef()) : options.faults;
    const writer = new Writer(output, context.signal);
    const session: Session = {
      ds: resolveDataset(input.dataset),
      teamsAccounts: accounts,
      certificateThumbprints: options.certificateThumbprints,
      ...(options.proxyCredentials ? { proxyCredentials: options.proxyCredentials } : {}),
      faults,
      modules: new Set(),
      warnings: [],
      ...(input.onFilter ? { onFilter: input.onFilter } : {}),
      ...(input.sessions ? { onSignIn: (a: string) => void ends.push(input.sessions!.signIn(a)) } : {}),
    };
    const it = new Interpreter(session, writer, output, options, faults);

    if (faults.progressRecords)
      await output.stderr(clixmlProgressDocument(undefined, faults.progressRecords));
    if (faults.startDelayMs)
      await sleep(faults.startDelayMs, undefined, { signal: context.signal }).catch(
        ignoreBecause('an abort ends the delay early; the next line sees it'),
      );
    if (context.signal.aborted) return 1;

    let statements: Statement[];
    try {
      statements = parseScript(script);
    } catch (error) {
      if (!(error instanceof PsParseError)) throw error;
      const line = script.slice(0, error.pos).split('\n').length;
      await output.stderr(
        clixmlErrorDocument([
          {
            message: error.message,
            line,
            statement: script.split('\n')[line - 1] ?? '',
            category: 'ParserError: (:) [], ParseException',
            errorId: 'ParseException',
          },
        ]),
      );
      return 1;
    }

    const root = new Scope();
    let current: Statement | undefined;
    try {
      for (const statement of statements) {
        current = statement;
        for (const value of it.statement(statement, root)) await writer.line(formatForConsole(value));
        // Perform, in order, the output the statement asked for.
        for (const line of pendingLines.get(it)?.splice(0) ?? []) await writer.line(line);
        for (const k of pendingKinds.get(it)?.splice(0) ?? []) await it.kind(k.kind, k.read);
        await it.flushWarnings();
      }
      await writer.flush();
      return 0;
    } catch (error) {
      if (error instanceof ProcessDeath && context.signal.aborted) return error.exitCode;
      await writer.flush().catch(ignoreBecause("the script's own error is the one to report"));
      if (error instanceof PsError || error instanceof ProcessDeath) {
        const psError = error instanceof PsError ? error : undefined;
        await output.stderr(
          clixmlErrorDocument([
            {
              message: psError?.command ? `${psError.command} : ${error.message}` : error.message,
              line: current?.line ?? 1,
              statement: current?.text ?? '',
              category: psError?.category ?? 'OperationStopped: (:) [], OutOfMemoryException',
              errorId: psError?.errorId ?? 'System.OutOfMemoryException',
            },
          ]),
        );
        return error instanceof ProcessDeath ? error.exitCode : 1;
      }
      throw error;
    }
  };
  return async (script, output, context) => {
    // The sessions this script signed in: they end when it does.
    const ends: (() => void)[] = [];
    try {
      return await runOne(script, output, context, ends);
    } finally {
      for (const end of ends) end();
    }
  };
}
