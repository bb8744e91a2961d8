/**
 * A redis-server of the fault suite's own on a free loopback port, which a case may kill and start
 * again: with an append-only file synced at every write (a restart loses nothing), or without
 * persistence (a restart loses everything, as with the services script's Redis). Never the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../../scripts/free-port.js';

export interface PrivateRedis {
  url: string;
  /** SIGKILL, then the same server again on the same port and directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** `host`: the address it listens on (default 127.0.0.1), e.g. a test bridge's address. */
export async function startPrivateRedis(options: { persist: boolean; host?: string }): Promise<PrivateRedis> {
  const host = options.host ?? '127.0.0.1';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'm365sync-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    host,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persist ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
    // Clients from other network namespaces come from addresses other than loopback.
    ...(host === '127.0.0.1' ? [] : ['--protected-mode', 'no']),
  ];
  const url = `redis://${host}:${port}`;
  let proc: ChildProcess;
  const start = async () => {
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    const probe = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 50, lazyConnect: true });
    probe.on('error', () => undefined);
    try {
      await probe.connect().catch(() => undefined);
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  };
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
