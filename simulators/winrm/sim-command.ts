/**
 * One command inside a simulated shell: its stdin, its queued output (bounded: the script waits
 * while Receive lags), and its end. Receive takes output from here.
 */
export interface QueuedOutput {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export class SimCommand {
  readonly stdin: Buffer[] = [];
  stdinBytes = 0;
  stdinEnded = false;
  done = false;
  exitCode = 0;
  readonly abort = new AbortController();
  private readonly queue: QueuedOutput[] = [];
  private queuedBytes = 0;
  private readonly outputWaiters = new Set<() => void>();
  private drainWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    private readonly highWaterBytes: number,
  ) {}

  get hasOutput(): boolean {
    return this.queuedBytes > 0;
  }

  /** Queues output; resolves once the queue is below the high-water mark again (or the command ended). */
  async write(stream: 'stdout' | 'stderr', text: string): Promise<void> {
    if (this.done || this.abort.signal.aborted || text === '') return;
    const data = Buffer.from(text, 'utf8');
    this.queue.push({ stream, data });
    this.queuedBytes += data.length;
    this.notify();
    while (this.queuedBytes > this.highWaterBytes && !this.done && !this.abort.signal.aborted) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  finish(exitCode: number): void {
    if (this.done) return;
    this.done = true;
    this.exitCode = exitCode;
    this.notify();
    this.release();
  }

  /** Stops the command (Signal terminate, Delete, restart): the script's signal aborts. */
  terminate(): void {
    this.abort.abort();
    // A process killed by the signal: STATUS_CONTROL_C_EXIT, as Windows reports it.
    if (!this.done) this.exitCode = -1073741510;
    this.done = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.notify();
    this.release();
  }

  /**
   * Takes up to `budget` bytes, as pieces of at most `pieceBytes` of one stream each. Pieces are cut at
   * byte positions, not at character boundaries, as a real console pipe would; `onSplit` counts cuts
   * that fall inside a UTF-8 character.
   */
  take(budget: number, pieceBytes: number, onSplit: () => void): QueuedOutput[] {
    const pieces: QueuedOutput[] = [];
    let left = budget;
    while (left > 0 && this.queue.length > 0) {
      const stream = this.queue[0]!.stream;
      const parts: Buffer[] = [];
      let size = 0;
      const limit = Math.min(pieceBytes, left);
      while (size < limit && this.queue.length > 0 && this.queue[0]!.stream === stream) {
        const head = this.queue[0]!;
        const want = limit - size;
        if (head.data.length <= want) {
          parts.push(head.data);
          size += head.data.length;
          this.queue.shift();
        } else {
          if ((head.data[want]! & 0xc0) === 0x80) onSplit();
          parts.push(head.data.subarray(0, want));
          head.data = head.data.subarray(want);
          size += want;
        }
      }
      pieces.push({ stream, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size) });
      left -= size;
      this.queuedBytes -= size;
    }
    if (this.queuedBytes <= this.highWaterBytes) this.release();
    return pieces;
  }

  /** Resolves when output arrives, the command ends, or `ms` pass; false on timeout. */
  waitForOutput(ms: number, cancelled: AbortSignal): Promise<boolean> {
    if (this.hasOutput || this.done) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.outputWaiters.delete(wake);
        cancelled.removeEventListener('abort', onCancel);
        resolve(value);
      };
      const wake = () => finish(true);
      const onCancel = () => finish(false);
      const timer = setTimeout(() => finish(false), ms);
      this.outputWaiters.add(wake);
      cancelled.addEventListener('abort', onCancel, { once: true });
    });
  }

  private notify(): void {
    for (const wake of [...this.outputWaiters]) wake();
  }

  private release(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
