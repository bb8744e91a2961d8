/**
 * A PowerShell step of a full pull: one generated script (Teams or Exchange) run on this worker's
 * PowerShell proxy, its JSON Lines written as they stream back, in batches per kind. A kind is
 * complete only with its `end` line; a kind with an `err` line, or none (the script died), fails and
 * sweeps nothing.
 */
import type { ProxyPool } from '../../connectors/winrm/index.js';
import {
  scriptFailure,
  splitScriptOutput,
  type PowerShellApplication,
  type ScriptOutputOptions,
} from '../../connectors/powershell/index.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import type { Logger } from 'pino';
import type { KindRun } from './kind-run.js';
import type { AcquireSession } from '../powershell-sessions.js';

export interface PowerShellStepOptions {
  application: PowerShellApplication;
  script: string;
  kinds: readonly string[];
  pool: ProxyPool;
  start: (kind: string) => KindRun;
  signal: AbortSignal;
  /** Tenant secrets, masked out of every error message. */
  secrets: readonly string[];
  /** Objects written to MongoDB in one bulk write. */
  batchSize: number;
  deadlineMs: number;
  output: ScriptOutputOptions;
  logger: Logger;
  /**
   * Takes a session slot of the script's sign-in account across the fleet, held until the script has
   * ended (workers/powershell-sessions.ts); none: no limit (the in-process engine).
   */
  acquireSession?: AcquireSession;
}

export async function runPowerShellStep(options: PowerShellStepOptions): Promise<void> {
  const runs = new Map(options.kinds.map((kind) => [kind, options.start(kind)]));
  const batches = new Map<string, Record<string, unknown>[]>();
  const flush = async (kind: string) => {
    const batch = batches.get(kind);
    if (batch && batch.length > 0) {
      batches.set(kind, []);
      await runs.get(kind)!.write(batch);
    }
  };
  let failure: unknown;
  let release: (() => void) | undefined;
  try {
    // The account's session slot first (a cancelled run stops waiting), then the shell.
    if (options.acquireSession) release = await options.acquireSession(options.signal);
  } catch (error) {
    failure = error;
  }
  try {
    if (!failure) failure = await runScript(options, runs, flush, batches);
  } finally {
    release?.();
  }
  // Kinds that never got their `end` or `err` line: the script died, was cancelled or could not sign in.
  for (const [kind, run] of runs) {
    if (run.settled) continue;
    await flush(kind).catch(
      ignoreBecause("the kind fails below with the script's failure, the one to report", options.logger),
    );
    await run.fail(
      failure ??
        new SyncError(
          'POWERSHELL_ERROR',
          `${options.application} script ended without a result for ${kind}.`,
          {
            retryable: true,
          },
        ),
      options.signal,
    );
  }
}

/** Runs the script and writes its output; resolves with why its unsettled kinds fail (if any). */
async function runScript(
  options: PowerShellStepOptions,
  runs: Map<string, KindRun>,
  flush: (kind: string) => Promise<void>,
  batches: Map<string, Record<string, unknown>[]>,
): Promise<unknown> {
  let failure: unknown;
  let sawDone = false;
  let textLines = 0;
  const execution = options.pool.execute(options.script, {
    signal: options.signal,
    deadlineMs: options.deadlineMs,
    maxOutputBytes: options.output.maxBytes,
    logger: options.logger,
  });
  const output = splitScriptOutput(execution, { ...options.output, secrets: options.secrets });
  try {
    for await (const record of output.records) {
      if (record.t === 'obj') {
        if (!runs.has(record.kind)) continue; // a kind this run did not ask for: never write it
        const batch = batches.get(record.kind) ?? [];
        batch.push(record.o);
        batches.set(record.kind, batch);
        if (batch.length >= options.batchSize) await flush(record.kind);
      } else if (record.t === 'end') {
        const run = runs.get(record.kind);
        if (!run) continue;
        await flush(record.kind);
        if (run.received !== record.count) {
          await run.fail(
            new SyncError(
              'POWERSHELL_ERROR',
              `${options.application} said ${record.count} ${record.kind} but ${run.received} arrived; nothing swept.`,
              {
                retryable: true,
              },
            ),
          );
        } else {
          await run.complete();
        }
      } else if (record.t === 'err') {
        const run = runs.get(record.kind);
        if (!run) continue;
        await flush(record.kind); // what arrived is fresh data; only the sweep is withheld
        await run.fail(
          new SyncError(
            'POWERSHELL_ERROR',
            `${options.application}: ${record.kind} failed: ${record.message}`,
            {
              retryable: true,
            },
          ),
        );
      } else if (record.t === 'done') {
        sawDone = true;
      } else {
        textLines++;
      }
    }
  } catch (error) {
    failure = error;
  }
  if (textLines > 0)
    options.logger.debug(
      { application: options.application, textLines },
      'script wrote lines outside the JSON Lines contract',
    );

  if (!failure) {
    const result = await execution.result.catch((e: unknown) => e);
    if (result instanceof Error || !('exitCode' in (result as object))) failure = result;
    else
      failure = scriptFailure(
        options.application,
        (result as { exitCode: number }).exitCode,
        output.errors(),
        options.secrets,
        sawDone,
      );
  }
  return failure;
}
