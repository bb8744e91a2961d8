/**
 * The simulated Graph tenant for bench/graph.ts, in its own process so the benchmark's memory and CPU
 * figures are the connector's alone. Prints one JSON line with what the connector needs, then serves
 * until it is killed.
 */
import { runGraphSimulator } from '../simulators/graph/command.js';

const users = Number(process.argv[2] ?? 100_000);
const { sim } = await runGraphSimulator({
  users,
  groups: 100,
  teams: 20,
  seed: 1,
  port: 0,
  host: '127.0.0.1',
  latency: 0,
  clientId: '11111111-2222-4333-8444-555555555555',
  clientSecret: 'bench-secret',
  certificate: false,
  dir: '.data/graph-simulator-bench',
});
console.log(JSON.stringify({ url: sim.url, tenantId: sim.tenantId, ca: sim.ca }));
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
