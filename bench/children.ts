/**
 * The child processes of the benchmarks that go through the real queue (bench/nightly.ts,
 * bench/freshness.ts, bench/fleet.ts): the simulated tenant (bench/tenant-child.ts) and the worker
 * (bench/worker-child.ts), each in its own process so the worker's RSS and CPU are the engine's alone,
 * and the IPC request/answer between them and the benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as bundle } from 'esbuild';

export interface TenantChild {
  proc: ChildProcess;
  tenantInput: unknown;
  ca: string;
}

/** The simulated tenant of `users` users, Graph paced at `graphLatencyMs` a request, cmdlets at `psRate`. */
export function startTenantChild(
  users: number,
  graphLatencyMs: number,
  psRate: number,
): Promise<TenantChild> {
  const proc = fork(
    new URL('./tenant-child.ts', import.meta.url).pathname,
    [String(users), String(graphLatencyMs), String(psRate)],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`the simulated tenant exited (${code})`)));
    proc.on('message', (m: { ready?: { tenantInput: unknown; ca: string } }) => {
      if (m.ready) resolve({ proc, ...m.ready });
    });
  });
}

/** Stops the simulated tenant (its exit is expected then). */
export function stopTenantChild(child: TenantChild): void {
  child.proc.removeAllListeners('exit');
  child.proc.kill('SIGTERM');
}

/** Sends a child process a message and waits for its answer (the message field `reply`). */
export function ask<T>(proc: ChildProcess, message: object, reply: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`a benchmark child exited (${code})`));
    const onMessage = (m: Record<string, unknown>) => {
      if (!(reply in m)) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      resolve(m[reply] as T);
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
    proc.send(message);
  });
}

/**
 * The worker child compiled once to plain JavaScript (esbuild, as `npm run build` compiles the product
 * with tsc), so its RSS is the engine's and not also tsx's loader and compile cache (about 35 MB).
 * Its source map is written beside it (`<bundle>.map`, not linked: node does not load it) so a CPU
 * profile of the worker can name the source files (bench/cpu-profile.ts).
 */
let workerBundle: Promise<string> | undefined;
export function compiledWorker(): Promise<string> {
  return (workerBundle ??= (async () => {
    const outfile = join(fileURLToPath(new URL('..', import.meta.url)), '.data/bench/worker-child.mjs');
    await bundle({
      entryPoints: [fileURLToPath(new URL('./worker-child.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile,
      sourcemap: 'external',
      logLevel: 'warning',
    });
    return outfile;
  })());
}

export interface WorkerStart {
  /** The collections get an `_id` index after the first pull (bench/ferretdb-id-index.ts). */
  idIndex: boolean;
  database: string;
  queuePrefix: string;
  keyHex: string;
  ca: string;
}

export interface WorkerChild {
  proc: ChildProcess;
  request: <T>(message: object, reply: string) => Promise<T>;
  /** The heap growth the worker applied (SYNC_WORKER_HEAP_GROWTH_PERCENT; 0: V8's own). */
  heapGrowthPercent: number;
}

/** The worker in its own process (bench/worker-child.ts), configured for one run's database. */
export async function startWorkerChild(
  start: WorkerStart,
  options: { nodeFlags?: string[]; heapSnapshotMb?: string } = {},
): Promise<WorkerChild> {
  const proc = fork(await compiledWorker(), [], {
    // --expose-gc: the memory after a sync is measured after a forced collection (a leak shows there).
    execArgv: ['--expose-gc', ...(options.nodeFlags ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_HEAP_SNAPSHOT_MB: options.heapSnapshotMb ?? '' },
  });
  const request = <T>(message: object, reply: string) => ask<T>(proc, message, reply);
  const { heapGrowthPercent } = await request<{ heapGrowthPercent: number }>({ start }, 'ready');
  return { proc, request, heapGrowthPercent };
}

/** Stops the worker and waits for it to exit. */
export async function stopWorkerChild(worker: WorkerChild): Promise<void> {
  if (worker.proc.exitCode !== null || worker.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.proc.once('exit', resolve));
  worker.proc.kill('SIGTERM');
  await exited;
}
