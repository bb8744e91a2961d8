/**
 * The simulated tenant for bench/nightly.ts and bench/freshness.ts, in its own process so the worker's
 * RSS and CPU are the engine's alone. Started with fork(); answers IPC messages:
 *   { cmd: 'change', changed, removed } → that many users renamed and removed (the next run sees it)
 *   { cmd: 'reset' }                    → back to the original data set
 *   { cmd: 'changeWith', change, seed } → the data set changed by `changeDataset(current, change, seed)`
 *                                         (a new seed each time: added users get new ids);
 *                                         answers { changed: DatasetDiff } (bench/dataset-diff.ts)
 *   { cmd: 'graphLog' }                 → answers { graphLog: GraphLog } for the requests since the
 *                                         last `graphLog`, and starts a new log
 * and sends { ready: { tenantInput, ca } } once it serves.
 */
import { changeDataset, type DatasetChange } from '../simulators/dataset.js';
import { startSimulatedTenant } from '../simulators/m365.js';
import { datasetDiff } from './dataset-diff.js';

/** What the simulated Graph served between two `graphLog` messages. */
export interface GraphLog {
  /** Graph API requests (sign-in not included), with the response bytes they were answered with. */
  requests: number;
  bytes: number;
  /** Per path without the query (e.g. /v1.0/users/delta): requests and bytes. */
  byPath: Record<string, { requests: number; bytes: number }>;
  /** Sign-in requests (OpenID configuration, tokens). */
  signIn: number;
  /** Graph requests answered with anything but 200 (a retry counts again above). */
  notOk: number;
  /**
   * What Graph itself took, in seconds: its service time (arrival to response sent, the pacing
   * included) along the longest chain of requests, which is licences (subscribedSkus, read first) then
   * the longer of the users requests and the groups requests (teams are groups), each collection's
   * requests one after the other. The engine's waits between requests are not in it.
   */
  graphSeconds: number;
  /** From the first Graph request's arrival to the last Graph response sent, in seconds (0: none): the
   * Graph requests and whatever the engine did between them. */
  spanSeconds: number;
  /** Those two times, milliseconds since the epoch (0: no Graph request). */
  firstAt: number;
  lastAt: number;
}

const [users, graphLatencyMs, objectsPerSecond] = process.argv.slice(2).map(Number);
const sim = await startSimulatedTenant({
  dataset: { seed: 5, users: users ?? 2000 },
  enableExchange: true,
  graphLatencyMs: graphLatencyMs ?? 0,
  ...(objectsPerSecond ? { objectsPerSecond } : {}),
});
const original = sim.dataset();

function graphLog(): GraphLog {
  const log: GraphLog = {
    requests: 0,
    bytes: 0,
    byPath: {},
    signIn: 0,
    notOk: 0,
    graphSeconds: 0,
    spanSeconds: 0,
    firstAt: 0,
    lastAt: 0,
  };
  let first = Infinity;
  let last = -Infinity;
  const chains = { licences: 0, users: 0, groups: 0 };
  for (const r of sim.graph.requests) {
    if (r.kind === 'openid' || r.kind === 'token') log.signIn++;
    if (r.kind !== 'graph') continue;
    const bytes = r.bytes ?? 0;
    log.requests++;
    log.bytes += bytes;
    if (r.status !== 200) log.notOk++;
    const path = (log.byPath[r.path] ??= { requests: 0, bytes: 0 });
    path.requests++;
    path.bytes += bytes;
    const chain = r.path.startsWith('/v1.0/users')
      ? 'users'
      : r.path.startsWith('/v1.0/groups')
        ? 'groups'
        : 'licences';
    chains[chain] += (r.sentAt ?? r.at) - r.at;
    first = Math.min(first, r.at);
    last = Math.max(last, r.sentAt ?? r.at);
  }
  log.graphSeconds = (chains.licences + Math.max(chains.users, chains.groups)) / 1000;
  if (log.requests > 0)
    Object.assign(log, { spanSeconds: (last - first) / 1000, firstAt: first, lastAt: last });
  sim.graph.clearLog();
  return log;
}

interface Message {
  cmd: string;
  changed?: number;
  removed?: number;
  change?: DatasetChange;
  seed?: number;
}

process.on('message', (m: Message) => {
  if (m.cmd === 'change') {
    sim.setDataset(changeDataset(original, { renameUsers: m.changed ?? 0, removeUsers: m.removed ?? 0 }));
  } else if (m.cmd === 'reset') {
    sim.setDataset(original);
  } else if (m.cmd === 'changeWith') {
    const before = sim.dataset();
    const after = changeDataset(before, m.change ?? {}, m.seed);
    sim.setDataset(after);
    process.send?.({ changed: datasetDiff(before, after) });
    return;
  } else if (m.cmd === 'graphLog') {
    process.send?.({ graphLog: graphLog() });
    return;
  }
  process.send?.({ done: m.cmd });
});
process.send?.({ ready: { tenantInput: sim.tenantInput, ca: sim.ca } });
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
