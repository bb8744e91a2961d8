/**
 * Graph connector benchmark: pages N users from the simulated tenant (in a child process) over real
 * HTTPS and prints objects per second, pages, and the connector process's peak RSS.
 *
 *   npx tsx bench/graph.ts [users=100000] [pageSize=999] [runs=3]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGraphConnector } from '../connectors/graph/index.js';
import { validateTenant } from '../domain/tenant.js';
import { createLogger } from '../observability/logger.js';
import { validTenantInput } from '../simulators/example-tenant.js';

const users = Number(process.argv[2] ?? 100_000);
const pageSize = Number(process.argv[3] ?? 999);
const runs = Number(process.argv[4] ?? 3);

const child = fork(new URL('./graph-simulator-child.ts', import.meta.url), [String(users)], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
});
try {
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  const sim = JSON.parse(first) as { url: string; tenantId: string; ca: string };
  const tenant = validateTenant(
    validTenantInput({
      'Microsoft 365': {
        client_id: '11111111-2222-4333-8444-555555555555',
        tenant_id: sim.tenantId,
        client_secret: 'bench-secret',
        graph_base_url: sim.url,
        authority_host: sim.url,
        msol_user_api_page_size: pageSize,
      },
    }),
  );
  const baseline = process.memoryUsage().rss;
  let peakRss = baseline;
  console.log(
    `Graph bench: ${users} users, page size ${pageSize}, ${runs} runs (simulator in a child process)`,
  );
  for (let run = 1; run <= runs; run++) {
    const connector = createGraphConnector({
      tenant,
      ca: sim.ca,
      limiter: { requestsPerSecond: 1000, maxConcurrent: 4 },
      logger: createLogger({ level: 'warn' }),
    });
    const started = performance.now();
    let objects = 0;
    let pages = 0;
    for await (const page of connector.pages('users')) {
      objects += page.length;
      pages++;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  run ${run}: ${objects} users in ${pages} pages, ${seconds.toFixed(2)} s, ${Math.round(objects / seconds)} objects/s, ` +
        `max live pages ${connector.stats.maxLivePages}`,
    );
    await connector.close();
  }
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  console.log(
    `  RSS: start ${mb(baseline)}, peak sampled ${mb(peakRss)}, peak (getrusage) ${mb(process.resourceUsage().maxRSS * 1024)}`,
  );
} finally {
  child.kill('SIGTERM');
}
