/**
 * WinRM client throughput and memory: streams 50 MB of output from a simulated PowerShell proxy
 * (in another process) through WinRmClient, then 4 × 12.5 MB at once through the ProxyPool, and
 * reports MB/s, Receives and the client's peak RSS and heap. Run: `npx tsx bench/winrm.ts [MB]`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { WinRmClient } from '../connectors/winrm/client.js';
import type { Execution } from '../connectors/winrm/execution.js';
import { ProxyPool } from '../connectors/winrm/proxy-pool.js';

const megabytes = Number(process.argv[2] ?? 50);
const password = 'bench-password';
const logger = pino({ level: 'error' });

const child = spawn(
  process.execPath,
  ['--import', 'tsx', new URL('./winrm-sim.ts', import.meta.url).pathname],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_PROXY_PASSWORD: password },
  },
);
const [first] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
const { port } = JSON.parse(first) as { port: number };

let peakRss = 0;
let peakHeap = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 20);

async function drain(execution: Execution): Promise<number> {
  let bytes = 0;
  for await (const chunk of execution) bytes += chunk.data.length;
  return bytes;
}

function report(name: string, bytes: number, ms: number): void {
  const mb = bytes / 1024 / 1024;
  console.log(
    `${name}: ${mb.toFixed(1)} MB in ${(ms / 1000).toFixed(2)} s = ${(mb / (ms / 1000)).toFixed(1)} MB/s; ` +
      `peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB, peak heap ${(peakHeap / 1024 / 1024).toFixed(0)} MB`,
  );
}

try {
  const baseline = process.memoryUsage().rss;
  console.log(`baseline RSS ${(baseline / 1024 / 1024).toFixed(0)} MB`);
  const client = new WinRmClient(
    { host: '127.0.0.1', port, scheme: 'http', username: 'bench', password },
    { logger },
  );
  let start = performance.now();
  const execution = client.execute(`# bytes ${megabytes * 1024 * 1024}`);
  const bytes = await drain(execution);
  report('one client, one command', bytes, performance.now() - start);
  console.log(`  exit code ${(await execution.result).exitCode}`);
  client.close();

  peakRss = 0;
  peakHeap = 0;
  const pool = new ProxyPool(
    {
      hosts: [{ host: '127.0.0.1', port }],
      scheme: 'http',
      username: 'bench',
      password,
      affinityKey: 'bench',
    },
    { logger },
  );
  start = performance.now();
  const each = Math.round((megabytes / 4) * 1024 * 1024);
  const totals = await Promise.all([1, 2, 3, 4].map(() => drain(pool.execute(`# bytes ${each}`))));
  report(
    'pool, 4 commands at once',
    totals.reduce((a, b) => a + b, 0),
    performance.now() - start,
  );
  pool.close();
} finally {
  clearInterval(sampler);
  child.kill('SIGTERM');
  await once(child, 'exit');
}
