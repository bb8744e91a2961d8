/**
 * A Redis of the benchmark's own (the machine's `redis-server`, on a free loopback port, nothing saved),
 * so the Redis operations a benchmark counts (`INFO stats` total_commands_processed) are its own and
 * not also those of whatever else shares the usual Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../scripts/free-port.js';

export interface PrivateRedis {
  url: string;
  /** The redis-server process (its CPU is read from /proc, bench/process-cpu.ts). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts `redis-server` (it must be on the PATH) and waits until it answers. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {}); // refused until it listens: the loop tries again
    const ok = await Promise.race([
      client
        .connect()
        .then(() => client.ping())
        .then(
          () => true,
          () => false,
        ),
      failed,
    ]);
    client.disconnect();
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`redis-server does not answer on ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  failed.catch(() => {}); // its exit is expected from now on (stop)
  return {
    url,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Commands the Redis at `url` has processed since it started (INFO stats). */
export async function redisCommandsProcessed(url: string): Promise<number> {
  const client = new Redis(url);
  try {
    const info = await client.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
  } finally {
    client.disconnect();
  }
}
