/**
 * The simulated tenant for bench/nightly.ts, in its own process so the worker's RSS and CPU are the
 * engine's alone. Started with fork(); answers IPC messages:
 *   { cmd: 'change', changed, removed } → that many users renamed and removed (the next run sees it)
 *   { cmd: 'reset' }                    → back to the original data set
 * and sends { ready: { tenantInput, ca } } once it serves.
 */
import { changeDataset } from '../simulators/dataset.js';
import { startSimulatedTenant } from '../simulators/m365.js';

const [users, graphLatencyMs, objectsPerSecond] = process.argv.slice(2).map(Number);
const sim = await startSimulatedTenant({
  dataset: { seed: 5, users: users ?? 2000 },
  enableExchange: true,
  graphLatencyMs: graphLatencyMs ?? 0,
  ...(objectsPerSecond ? { objectsPerSecond } : {}),
});
const original = sim.dataset();
process.on('message', (m: { cmd: string; changed?: number; removed?: number }) => {
  if (m.cmd === 'change') {
    sim.setDataset(changeDataset(original, { renameUsers: m.changed ?? 0, removeUsers: m.removed ?? 0 }));
  } else if (m.cmd === 'reset') {
    sim.setDataset(original);
  }
  process.send?.({ done: m.cmd });
});
process.send?.({ ready: { tenantInput: sim.tenantInput, ca: sim.ca } });
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
