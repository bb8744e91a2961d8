import type { Logger } from 'pino';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';

/** One piece of a command's output: raw bytes as the proxy sent them (base64-decoded, not yet text). */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ExecutionResult {
  exitCode: number;
  /** `host:port` of the proxy that ran the command. */
  proxy: string;
  stdoutBytes: number;
  stderrBytes: number;
  /** Shells used: more than one when a lost shell was recreated before any output. */
  attempts: number;
  durationMs: number;
}

export interface ExecuteOptions {
  /** Cancels the command: the shell is still signalled and deleted. */
  signal?: AbortSignal;
  /** Our own overall deadline; after it the command is terminated and WINRM_TIMEOUT thrown. */
  deadlineMs?: number;
  /** stdout + stderr bytes allowed; more fails with OUTPUT_TOO_LARGE (the command is terminated). */
  maxOutputBytes?: number;
  /**
   * The caller's logger (a sync run's): the command's lines carry its bindings (run id, tenant). The
   * pool and its clients outlive runs, so their own loggers cannot.
   */
  logger?: Logger;
}

/**
 * A running command's output as an async iterable with back-pressure: the next Receive is sent only
 * when the consumer asks for more than what the last one brought. Iterate it once, to the end or
 * until `break` (which terminates the command and deletes the shell). `result` settles when the
 * iteration ends: with the exit code, or with the error the iteration threw.
 */
export class Execution implements AsyncIterable<OutputChunk> {
  readonly result: Promise<ExecutionResult>;
  private resolve!: (r: ExecutionResult) => void;
  private reject!: (e: unknown) => void;
  private iterated = false;

  constructor(private readonly source: () => AsyncGenerator<OutputChunk, ExecutionResult, undefined>) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The iteration rethrows every failure to the consumer; callers that only iterate must not
    // see an unhandled rejection from `result` as well.
    this.result.catch(ignoreBecause('the iteration rethrows it to the consumer'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<OutputChunk, void, undefined> {
    if (this.iterated) throw new Error('an Execution can be iterated only once');
    this.iterated = true;
    const inner = this.source();
    let finished = false;
    try {
      for (;;) {
        const step = await inner.next();
        if (step.done) {
          finished = true;
          this.resolve(step.value);
          return;
        }
        yield step.value;
      }
    } catch (error) {
      finished = true;
      this.reject(error);
      throw error;
    } finally {
      if (!finished) {
        // The consumer stopped early: let the source terminate the command and delete its shell.
        await inner
          .return(undefined as never)
          .catch(ignoreBecause('the consumer stopped reading; it hears CANCELLED, not how the stop went'));
        this.reject(new SyncError('CANCELLED', 'the consumer stopped reading the command output'));
      }
    }
  }

  /** Reads everything into memory: for probes and small outputs only (tests, "Test connection"). */
  async collect(): Promise<{ stdout: Buffer; stderr: Buffer; result: ExecutionResult }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const chunk of this) (chunk.stream === 'stdout' ? out : err).push(chunk.data);
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), result: await this.result };
  }
}
