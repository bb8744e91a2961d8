/**
 * The freshness benchmark (issue 21, item 4): what a delta run costs against the Graph part of a full
 * pull, on a tenant in which a few users changed, and whether the change feed holds exactly the changes
 * made. Through the real queue, worker (its own process, bench/worker-child.ts) and MongoDB-wire server,
 * with the simulated tenant in its own process, Graph paced as in the nightly benchmark.
 *
 * 1. A full pull of the Graph kinds (licences, users, groups, teams) of a 50,000-user tenant seeds the
 *    delta states (the `$deltatoken=latest` links).
 * 2. Each cycle (three by default):
 *    - the tenant changes: 0.5 % of the users changed, half of those by a licence change (Teams Phone
 *      given or a licence taken away) and half renamed; 0.1 % removed (half to the recycle bin, half
 *      for good); 0.1 % added;
 *    - a delta run (`mode: 'delta'`): its wall time (request to completion, as a client sees it), the
 *      Graph requests it made and the response bytes (counted by the simulated Graph), the change
 *      records it wrote;
 *    - a full pull of the same kinds on the same changed tenant, same pacing, same worker: its Graph
 *      part (requests, bytes, and the wall time from its first Graph request to its last response).
 *      A full pull's Graph reading does not depend on the store, so running it right after the delta
 *      on the same tenant reads exactly what a full pull of that tenant reads; it also proves the delta
 *      left the store as a full pull leaves it (it finds nothing to create, update or delete).
 * 3. The change feed: the delta run's records, by kind, operation and id, against the changes made
 *    (worked out from the two data sets, bench/dataset-diff.ts) and against the store before and after
 *    the run. Missing, extra and duplicate records are counted; the target is none.
 *
 *   npx tsx bench/freshness.ts [--quick] [--users 50000] [--cycles 3] [--graph-latency-ms 500]
 *                              [--out bench] [--no-id-index] [--verbose]
 *
 * Writes the `freshness` part of <out>/results.json (and its `freshness_…` targets: the median cycle
 * against the targets) and the "Freshness" section of <out>/RESULTS.md; the nightly benchmark's parts
 * stay (bench/results-file.ts). `--quick` (2,000 users, one cycle, Graph 50 ms, out .data/bench-quick)
 * only checks that it works.
 */
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { allowSimulatedTenant } from '../cli/in-process.js';
import { connectMongo } from '../connectors/mongo/connection.js';
import { createKeyRing } from '../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../connectors/mongo/stores.js';
import type { Db } from 'mongodb';
import { decodeCursor, type Change } from '../domain/changes.js';
import { DELTA_RUN_KINDS } from '../domain/delta.js';
import { entityKind } from '../domain/entity-kinds.js';
import { parseSettings } from '../domain/settings.js';
import type { SyncRun } from '../domain/sync-run.js';
import type { DatasetChange } from '../simulators/dataset.js';
import { redisSettings } from '../queues/connection.js';
import { addSyncJob, createSyncQueue, prepareSync, waitForRun } from '../queues/sync-queue.js';
import {
  ask,
  startTenantChild,
  startWorkerChild,
  stopTenantChild,
  stopWorkerChild,
  type TenantChild,
} from './children.js';
import { benchArgs } from './args.js';
import { GRAPH_DIFF_KINDS, type DatasetDiff } from './dataset-diff.js';
import { addIdIndexes, ferretdbPostgresUrl } from './ferretdb-id-index.js';
import {
  FRESHNESS_TARGET_PREFIX,
  writeResults,
  writeSection,
  type Target,
  targetsTable,
  loadAverage,
} from './results-file.js';
import type { GraphLog } from './tenant-child.js';
import type { WorkerStats } from './worker-child.js';

const { flag, option } = benchArgs('bench/freshness.ts', {
  quick: 'flag',
  users: 'value',
  cycles: 'value',
  'graph-latency-ms': 'value',
  out: 'value',
  'no-id-index': 'flag',
  verbose: 'flag',
});
const quick = flag('quick');
const users = Number(option('users', quick ? '2000' : '50000'));
const cycles = Number(option('cycles', quick ? '1' : '3'));
// The nightly benchmark's pacing (bench/nightly.ts): the fast end of real Graph's 0.5–3 s per page.
const graphLatencyMs = Number(option('graph-latency-ms', quick ? '50' : '500'));
const out = option('out', quick ? '.data/bench-quick' : 'bench');
const idIndex = process.env.M365SYNC_BENCH_ID_INDEX === '1' && !flag('no-id-index');
for (const [name, value] of Object.entries({ users, cycles, graphLatencyMs }))
  if (!Number.isInteger(value) || value < (name === 'graphLatencyMs' ? 0 : 1))
    throw new Error(`bench/freshness.ts: ${name} must be a whole number (got ${String(value)})`);
// A stored picture is read sorted by `_id` (connectors/mongo/stored-keys.ts), and FerretDB v1 sorts the
// whole collection before its first answer: on a loaded machine a 50,000-user read waited longer than
// the default 30 s socket timeout (measured: 18 to 26 s to the first document at load 17 to 21 on two
// cores) and the run failed. The bench and its worker wait longer; the times measured are the same.
process.env.MONGODB_SOCKET_TIMEOUT_MS ??= '300000';
if (users < 1000)
  throw new Error(
    `bench/freshness.ts: --users must be at least 1000, so that 0.1 % is a user (got ${users})`,
  );

/** The kinds a delta run covers; the full pull compared with it pulls the same. */
const KINDS = [...DELTA_RUN_KINDS];
const PAGE = 999; // $top of users and groups (the tenant's blank page sizes)
const OPS = ['created', 'updated', 'deleted'] as const;
type Op = (typeof OPS)[number];

/** The change each cycle makes, from the tenant's size (issue 21: 0.5 % changed, 0.1 % removed, 0.1 % added). */
function changeFor(size: number): { change: DatasetChange; asked: Record<string, number> } {
  const changed = Math.round(size * 0.005);
  const licence = Math.round(changed / 2);
  const removed = Math.round(size * 0.001);
  const added = Math.round(size * 0.001);
  const change: DatasetChange = {
    renameUsers: changed - licence,
    licenseUsers: Math.ceil(licence / 2),
    unlicenseUsers: Math.floor(licence / 2),
    softDeleteUsers: Math.floor(removed / 2),
    removeUsers: removed - Math.floor(removed / 2),
    addUsers: added,
  };
  return { change, asked: { changed, licence, renamed: changed - licence, removed, added } };
}

interface Measured {
  seconds: number;
  workerCpuSeconds: number;
  status: string;
  /** Per kind: created/updated/deleted, and for a delta run how the kind was synced. */
  kinds: Record<
    string,
    { created: number; updated: number; deleted: number; seconds: number; sync?: string; fallback?: string }
  >;
  graph: GraphLog;
  changeRecords: number;
  /**
   * Where the wall time went, in seconds: request → the worker started the run (queue) → its first
   * Graph request (set-up) → its last Graph response (span: the Graph requests and the engine's work
   * between them) → the run's end (writes, completion) → the client saw the end (polling). Clocks of
   * one machine.
   */
  phases: { queue: number; setUp: number; span: number; afterGraph: number; seen: number };
  /** Per collection: the worker reading the kind's stored picture (all its stored keys), keys and seconds. */
  storedPictures: Record<string, { keys: number; seconds: number }>;
}

interface FeedCheck {
  /** The delta run's change records, per kind and operation. */
  records: Record<string, Record<Op, number>>;
  /** The changes made (bench/dataset-diff.ts), per kind and operation. */
  made: Record<string, Record<Op, number>>;
  /** Records the changes made do not account for, changes with no record, records of one object twice. */
  extra: string[];
  missing: string[];
  duplicates: string[];
  /** The store before and after the run differs exactly as the records say. */
  storeAgrees: boolean;
  /** The users' updated records, by the fields they name. */
  userFields: Record<string, number>;
}

interface Cycle {
  asked: Record<string, number>;
  usersSoftDeleted: number;
  delta: Measured;
  full: Measured;
  feed: FeedCheck;
  ratios: { requests: number; bytes: number; wallVsFullGraph: number; deltaGraphVsFullGraph: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, d = 3) => Number(x.toFixed(d));
/** With --verbose: how long the benchmark has run at each step. */
const began = performance.now();
const step = (what: string) => {
  if (flag('verbose')) console.log(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${what}`);
};

/** Per kind, each stored object's data (as stored, serialised) by its external id. */
type Snapshot = Record<string, Map<string, string>>;

/**
 * The tenant's stored objects of the run's kinds, read straight from their collections in batches and
 * unsorted (a sorted read of 50,000 documents has FerretDB sort them all before its first answer).
 * An object the run did not write keeps its stored form, so comparing the serialised data finds
 * exactly the objects written with other content.
 */
async function snapshot(db: Db, tenantId: string): Promise<Snapshot> {
  const outSnap: Snapshot = {};
  for (const kind of KINDS) {
    const objects = new Map<string, string>();
    const cursor = db
      .collection<{ externalId: string; data: unknown }>(entityKind(kind).collection)
      .find({ tenantId }, { projection: { _id: 0, externalId: 1, data: 1 }, batchSize: 2000 });
    for await (const doc of cursor) objects.set(doc.externalId, JSON.stringify(doc.data));
    outSnap[kind] = objects;
  }
  return outSnap;
}

/** `kind op id` for each object that differs between two snapshots. */
function storeDiff(before: Snapshot, after: Snapshot): string[] {
  const lines: string[] = [];
  for (const kind of KINDS) {
    for (const [id, object] of after[kind]!) {
      const old = before[kind]!.get(id);
      if (!old) lines.push(`${kind} created ${id}`);
      else if (old !== object) lines.push(`${kind} updated ${id}`);
    }
    for (const id of before[kind]!.keys()) if (!after[kind]!.has(id)) lines.push(`${kind} deleted ${id}`);
  }
  return lines.sort();
}

async function runChanges(stores: Stores, tenantId: string, runId: string): Promise<Change[]> {
  const all: Change[] = [];
  let after = 0;
  for (;;) {
    const page = await stores.changes.ofRun(tenantId, runId, { after, limit: 1000 });
    all.push(...page.changes);
    after = decodeCursor(page.cursor);
    if (!page.more) break;
  }
  return all.filter((c) => c.op !== 'baseline');
}

function checkFeed(changes: Change[], made: DatasetDiff, before: Snapshot, after: Snapshot): FeedCheck {
  const count = (lines: string[]) => {
    const byKind: Record<string, Record<Op, number>> = {};
    for (const line of lines) {
      const [kind, op] = line.split(' ') as [string, Op];
      (byKind[kind] ??= { created: 0, updated: 0, deleted: 0 })[op]++;
    }
    return byKind;
  };
  const recorded = changes.map((c) => `${c.kind} ${c.op} ${c.externalId}`);
  const expected = GRAPH_DIFF_KINDS.flatMap((kind) =>
    OPS.flatMap((op) => made.kinds[kind][op].map((id) => `${kind} ${op} ${id}`)),
  );
  const seen = new Set<string>();
  const duplicates = recorded.filter((line) => {
    const key = line
      .split(' ')
      .filter((_, i) => i !== 1)
      .join(' ');
    if (seen.has(key)) return true;
    seen.add(key);
    return false;
  });
  const want = new Set(expected);
  const have = new Set(recorded);
  const userFields: Record<string, number> = {};
  for (const c of changes)
    if (c.kind === 'users' && c.op === 'updated') {
      const key = (c.fields ?? []).join('+') || '(none)';
      userFields[key] = (userFields[key] ?? 0) + 1;
    }
  return {
    records: count(recorded),
    made: count(expected),
    extra: recorded.filter((line) => !want.has(line)),
    missing: expected.filter((line) => !have.has(line)),
    duplicates,
    storeAgrees: isDeepStrictEqual(storeDiff(before, after), [...have].sort()),
    userFields,
  };
}

async function main() {
  const started = Date.now();
  const probe = await connectMongo(parseSettings({ ...process.env, M365SYNC_DB: 'admin' }));
  const build = await probe.db.admin().command({ buildInfo: 1 });
  await probe.close();
  const server = build.ferretdbVersion
    ? `FerretDB ${build.ferretdbVersion} (${process.env.MONGODB_BACKEND ?? 'backend not recorded'}${idIndex ? ', with GIN indexes on _id and externalId per collection' : ''})`
    : `MongoDB ${build.version}`;

  const sim: TenantChild = await startTenantChild(users, graphLatencyMs, 1000);
  const name = `bench_fresh_${randomBytes(3).toString('hex')}`;
  const settings = parseSettings({ ...process.env, M365SYNC_DB: name, M365SYNC_QUEUE_PREFIX: name });
  const mongo = await connectMongo(settings);
  const key = randomBytes(32);
  const stores = await openStores(mongo.db, createKeyRing(new Map([['bench', key]])));
  const queue = createSyncQueue(redisSettings(settings));
  const worker = await startWorkerChild({
    idIndex,
    database: name,
    queuePrefix: name,
    keyHex: key.toString('hex'),
    ca: sim.ca,
  });
  const graphLog = () => ask<GraphLog>(sim.proc, { cmd: 'graphLog' }, 'graphLog');
  try {
    await allowSimulatedTenant(stores, {
      destinations: [
        { kind: 'graph', entry: '127.0.0.1' },
        { kind: 'powershell', entry: '127.0.0.1' },
      ],
    });
    const tenant = await stores.tenants.add(sim.tenantInput as never);

    /** One run through the queue, as a client asks for it: timed from the request to its end. */
    const sync = async (mode: 'full' | 'delta'): Promise<Measured & { run: SyncRun }> => {
      await graphLog(); // a new log: this run's requests only
      await worker.request({ cmd: 'begin' }, 'done');
      const t0 = performance.now();
      const requestedAt = Date.now();
      const { jobId } = await addSyncJob(
        queue,
        await prepareSync(queue, {
          tenantId: tenant.id,
          trigger: 'cli',
          requestedBy: 'bench',
          ...(mode === 'delta' ? { mode } : { kinds: KINDS }),
        }),
      );
      const end = await waitForRun(queue, jobId, { pollMs: 20, timeoutMs: 30 * 60_000 });
      const seconds = (performance.now() - t0) / 1000;
      const seenAt = Date.now();
      const stats = await worker.request<WorkerStats>({ cmd: 'end' }, 'stats');
      if (flag('verbose')) console.log(`${mode} run: store writes per kind`, JSON.stringify(stats.trace));
      const storedPictures = Object.fromEntries(
        Object.entries(stats.pictures).map(([c, p]) => [c, { keys: p.keys, seconds: round(p.ms / 1000) }]),
      );
      const graph = await graphLog();
      const run =
        end.state === 'completed' ? await stores.runs.get((end.result as { runId: string }).runId) : null;
      if (!run) throw new Error(`the ${mode} run did not complete (${end.state})`);
      const problems = Object.entries(run.kinds)
        .filter(([, k]) => k.error)
        .map(([kind, k]) => `${kind}: ${k.error?.code} ${k.error?.message}`);
      if (run.status !== 'succeeded' || problems.length > 0)
        throw new Error(`the ${mode} run ended ${run.status}: ${problems.join('; ') || 'no kind error'}`);
      const kinds = Object.fromEntries(
        Object.entries(run.kinds).map(([kind, k]) => [
          kind,
          {
            created: k.created,
            updated: k.updated,
            deleted: k.deleted,
            seconds: k.durationMs / 1000,
            ...(k.sync ? { sync: k.sync } : {}),
            ...(k.fallback ? { fallback: k.fallback.reason } : {}),
          },
        ]),
      );
      const changeRecords = (await runChanges(stores, tenant.id, run.id)).length;
      const startedAt = run.startedAt?.getTime() ?? requestedAt;
      const endedAt = run.endedAt?.getTime() ?? seenAt;
      const [g0, g1] = graph.requests > 0 ? [graph.firstAt, graph.lastAt] : [startedAt, startedAt];
      const s = (from: number, to: number) => round((to - from) / 1000);
      const phases = {
        queue: s(requestedAt, startedAt),
        setUp: s(startedAt, g0),
        span: s(g0, g1),
        afterGraph: s(g1, endedAt),
        seen: s(endedAt, seenAt),
      };
      return {
        seconds,
        workerCpuSeconds: stats.cpuSeconds,
        status: run.status,
        kinds,
        graph,
        changeRecords,
        phases,
        storedPictures,
        run,
      };
    };

    const { run: _seedRun, ...seed } = await sync('full');
    for (const kind of ['users', 'groups', 'teams']) {
      const read = await stores.deltaStates.get(tenant.id, kind);
      if (!read.state) throw new Error(`the first full pull seeded no delta state for ${kind}`);
    }
    console.log(
      `${users} users: first full pull ${seed.seconds.toFixed(1)} s, ${seed.graph.requests} Graph requests, Graph ${seed.graph.graphSeconds.toFixed(1)} s (span ${seed.graph.spanSeconds.toFixed(1)} s)`,
    );
    // The kinds' collections exist once the first pull has written them.
    if (idIndex) await addIdIndexes(ferretdbPostgresUrl(process.env), name, { externalId: true });
    step('the _id indexes added');

    const results: Cycle[] = [];
    /** The store after the last full pull, when that pull changed nothing: the next cycle's start. */
    let unchangedSince: Snapshot | undefined;
    for (let c = 0; c < cycles; c++) {
      const before = unchangedSince ?? (await snapshot(mongo.db, tenant.id));
      step(`cycle ${c + 1}: the store read (${before.users!.size} users)`);
      const { change, asked } = changeFor(before.users!.size);
      const made = await ask<DatasetDiff>(sim.proc, { cmd: 'changeWith', change, seed: 100 + c }, 'changed');
      const u = made.kinds.users;
      if (
        u.created.length !== asked.added ||
        u.deleted.length !== asked.removed ||
        u.updated.length !== asked.changed
      )
        throw new Error(
          `the data set change made ${u.created.length} created, ${u.updated.length} updated, ${u.deleted.length} deleted users, not the ${JSON.stringify(asked)} asked for`,
        );
      const { run: deltaRun, ...delta } = await sync('delta');
      const fellBack = Object.entries(delta.kinds).filter(([k, r]) => k !== 'licences' && r.sync !== 'delta');
      if (fellBack.length > 0)
        throw new Error(
          `the delta run pulled ${fellBack.map(([k, r]) => `${k} in full (${r.fallback})`).join(', ')}: nothing to compare`,
        );
      step(`cycle ${c + 1}: the delta run`);
      const after = await snapshot(mongo.db, tenant.id);
      step(`cycle ${c + 1}: the store read again`);
      const feed = checkFeed(await runChanges(stores, tenant.id, deltaRun.id), made, before, after);
      step(`cycle ${c + 1}: the feed checked`);
      const { run: _fullRun, ...full } = await sync('full');
      const cycle: Cycle = {
        asked,
        usersSoftDeleted: made.usersSoftDeleted,
        delta,
        full,
        feed,
        ratios: {
          requests: delta.graph.requests / full.graph.requests,
          bytes: delta.graph.bytes / full.graph.bytes,
          wallVsFullGraph: delta.seconds / full.graph.graphSeconds,
          deltaGraphVsFullGraph: delta.graph.graphSeconds / full.graph.graphSeconds,
        },
      };
      results.push(cycle);
      const fullChanged = Object.values(full.kinds).reduce(
        (n, k) => n + k.created + k.updated + k.deleted,
        0,
      );
      unchangedSince = fullChanged === 0 && full.changeRecords === 0 ? after : undefined;
      console.log(
        `cycle ${c + 1}: delta run ${delta.seconds.toFixed(2)} s, ${delta.graph.requests} Graph requests, ${(delta.graph.bytes / 1024).toFixed(0)} KiB, ` +
          `${delta.changeRecords} change records (${feed.missing.length} missing, ${feed.extra.length} extra, ${feed.duplicates.length} twice); ` +
          `full pull's Graph part ${full.graph.graphSeconds.toFixed(1)} s (span ${full.graph.spanSeconds.toFixed(1)} s), ${full.graph.requests} requests, ${(full.graph.bytes / 2 ** 20).toFixed(1)} MiB ` +
          `(run ${full.seconds.toFixed(1)} s, ${fullChanged} objects changed); delta phases ${JSON.stringify(delta.phases)}, users' picture ${JSON.stringify(delta.storedPictures.users)}`,
      );
      if (flag('verbose'))
        console.log(
          JSON.stringify(
            {
              delta: delta.graph.byPath,
              full: full.graph.byPath,
              phases: [delta.phases, full.phases],
              kinds: [delta.kinds, full.kinds],
              feed,
            },
            null,
            2,
          ),
        );
    }
    return { started, server, seed, results };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await stopWorkerChild(worker);
    await queue.close();
    await mongo.db.dropDatabase().catch(() => {});
    await mongo.close();
    stopTenantChild(sim);
  }
}

const { started, server, seed, results } = await main();
const mid = (f: (c: Cycle) => number) => median(results.map(f));
const feedErrors = (c: Cycle) =>
  c.feed.missing.length + c.feed.extra.length + c.feed.duplicates.length + (c.feed.storeAgrees ? 0 : 1);
const fullChanges = (c: Cycle) =>
  Object.values(c.full.kinds).reduce((n, k) => n + k.created + k.updated + k.deleted, 0) +
  c.full.changeRecords;
const requestsRatio = mid((c) => c.ratios.requests);
const wallRatio = mid((c) => c.ratios.wallVsFullGraph);
const P = FRESHNESS_TARGET_PREFIX;
const targets: Record<string, Target> = {
  [`${P}delta_graph_requests_vs_full_pull`]: {
    target: '<= 0.05',
    measured: round(requestsRatio),
    met: requestsRatio <= 0.05,
  },
  [`${P}delta_wall_time_vs_full_pull_graph_time`]: {
    target: '<= 0.1',
    measured: round(wallRatio),
    met: wallRatio <= 0.1,
  },
  // Every cycle, not the median: one wrong record is a miss.
  [`${P}change_feed_errors`]: {
    target: '== 0',
    measured: results.reduce((n, c) => n + feedErrors(c), 0),
    met: results.every((c) => feedErrors(c) === 0),
  },
  [`${P}full_pull_after_delta_changes`]: {
    target: '== 0',
    measured: results.reduce((n, c) => n + fullChanges(c), 0),
    met: results.every((c) => fullChanges(c) === 0),
  },
};

const command = `npx tsx bench/freshness.ts ${process.argv.slice(2).join(' ')}`.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
const load = loadAverage();
const freshness = {
  generatedAt: new Date().toISOString(),
  command: process.env.BENCH_COMMAND ?? command,
  script: command,
  machine,
  node: process.version,
  server,
  loadAverageAtEnd: load,
  pacing: {
    graphPageLatencyMs: graphLatencyMs,
    graphPageSize: PAGE,
    deltaPageSize: 'the simulator default, 200 units',
  },
  users,
  cycles,
  idIndex,
  mongoSocketTimeoutMs: Number(process.env.MONGODB_SOCKET_TIMEOUT_MS),
  durationSeconds: round((Date.now() - started) / 1000, 0),
  firstFullPull: seed,
  median: {
    deltaSeconds: mid((c) => c.delta.seconds),
    deltaGraphRequests: mid((c) => c.delta.graph.requests),
    deltaGraphBytes: mid((c) => c.delta.graph.bytes),
    deltaGraphSeconds: mid((c) => c.delta.graph.graphSeconds),
    deltaGraphSpanSeconds: mid((c) => c.delta.graph.spanSeconds),
    deltaUsersPictureSeconds: mid((c) => c.delta.storedPictures.users?.seconds ?? 0),
    deltaChangeRecords: mid((c) => c.delta.changeRecords),
    fullGraphSeconds: mid((c) => c.full.graph.graphSeconds),
    fullGraphSpanSeconds: mid((c) => c.full.graph.spanSeconds),
    fullGraphRequests: mid((c) => c.full.graph.requests),
    fullGraphBytes: mid((c) => c.full.graph.bytes),
    fullRunSeconds: mid((c) => c.full.seconds),
    requestsRatio,
    bytesRatio: mid((c) => c.ratios.bytes),
    wallVsFullGraphRatio: wallRatio,
    deltaGraphVsFullGraphRatio: mid((c) => c.ratios.deltaGraphVsFullGraph),
  },
  cycleResults: results,
};
const jsonPath = writeResults(out, {
  fields: { freshness },
  targets,
  owns: (n) => n.startsWith(FRESHNESS_TARGET_PREFIX),
});

const s2 = (x: number) => x.toFixed(2);
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const m = freshness.median;
const a = results[0]!.asked;
const perOp = (r: Record<string, Record<Op, number>>) =>
  Object.entries(r)
    .map(
      ([kind, ops]) =>
        `${kind} ${OPS.filter((op) => ops[op])
          .map((op) => `${ops[op]} ${op}`)
          .join(', ')}`,
    )
    .join('; ') || 'none';
const lines = [
  '<!-- freshness:start (written by bench/freshness.ts; edit the analysis below the generated tables) -->',
  '## Freshness: a delta run against a full pull (issue 21)',
  '',
  `\`${freshness.command}\` (\`${command}\`), ${freshness.generatedAt.slice(0, 10)}: ${machine}, Node ${process.version}, ${server}, Redis on loopback;`,
  `the simulated tenant in a child process, Graph ${graphLatencyMs} ms per request ($top ${PAGE} for the full pull; delta pages of the simulator's 200 units);`,
  `the worker in its own process (compiled), MongoDB socket timeout ${Number(process.env.MONGODB_SOCKET_TIMEOUT_MS) / 1000} s. ${users.toLocaleString('en')} users; a first full pull of licences, users, groups and teams seeds the delta states, then ${cycles} cycle(s) of:`,
  `the tenant changes (${a.changed} users changed: ${a.licence} licence changes and ${a.renamed} renames; ${a.removed} removed, half soft-deleted; ${a.added} added),`,
  'a delta run, then a full pull of the same kinds on the same tenant. Medians of the cycles; the feed is checked in every cycle.',
  `${freshness.durationSeconds} s in all. Load average at the end ${load} (the benchmark's own processes included).`,
  '',
  '| run | wall time | Graph time | Graph span | Graph requests | Graph response bytes | change records | worker CPU |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  `| delta run | ${s2(m.deltaSeconds)} s | ${s2(m.deltaGraphSeconds)} s | ${s2(m.deltaGraphSpanSeconds)} s | ${m.deltaGraphRequests} | ${kib(m.deltaGraphBytes)} | ${m.deltaChangeRecords} | ${s2(mid((c) => c.delta.workerCpuSeconds))} s |`,
  `| full pull, same kinds | ${s2(m.fullRunSeconds)} s | ${s2(m.fullGraphSeconds)} s | ${s2(m.fullGraphSpanSeconds)} s | ${m.fullGraphRequests} | ${kib(m.fullGraphBytes)} | ${mid((c) => c.full.changeRecords)} | ${s2(mid((c) => c.full.workerCpuSeconds))} s |`,
  `| delta ÷ full | ${s2(m.deltaSeconds / m.fullRunSeconds)} | ${s2(m.deltaGraphVsFullGraphRatio)} | | ${s2(requestsRatio)} | ${m.bytesRatio.toFixed(4)} | | |`,
  '',
  '- Wall time: from the request to the client seeing the run end (through the queue, as `m365sync sync --wait` sees it).',
  "- Graph time: what the simulated Graph took along the run's longest chain of requests (licences, then the longer of the users and the groups requests; each request from its arrival to its response sent, the pacing included). The engine's waits between requests are not in it. The targets compare the delta run's whole wall time with the full pull's Graph time.",
  "- Graph span: from the run's first Graph request reaching the simulated Graph to its last response; the engine's work between requests is in it.",
  `- Graph requests and bytes: counted by the simulated Graph (sign-in not included: ${results[0]!.delta.graph.signIn} sign-in request(s) per run); bytes are the response bodies.`,
  `- Where the delta run's wall time went (medians): ${phaseNote((c) => c.delta)}. ${
    mid((c) => c.delta.storedPictures.users?.keys ?? 0) === 0
      ? 'It read no whole stored picture: its rounds looked up only the objects they named.'
      : `Reading the users' stored picture (every stored key of the kind: ${mid((c) => c.delta.storedPictures.users?.keys ?? 0).toLocaleString('en')}) took ${s2(m.deltaUsersPictureSeconds)} s of it.`
  }`,
  `- The full pull's (medians): ${phaseNote((c) => c.full)}.`,
  `- Delta requests by path (cycle 1): ${Object.entries(results[0]!.delta.graph.byPath)
    .map(([p, v]) => `${p} ${v.requests}`)
    .join(', ')}; full pull: ${Object.entries(results[0]!.full.graph.byPath)
    .map(([p, v]) => `${p} ${v.requests}`)
    .join(', ')}.`,
  `- Change records of the delta run (cycle 1): ${perOp(results[0]!.feed.records)}. Changes made: ${perOp(results[0]!.feed.made)}.`,
  `- Users' updated records by the fields they name (cycle 1): ${Object.entries(results[0]!.feed.userFields)
    .map(([f, n]) => `${f} ${n}`)
    .join('; ')}.`,
  '',
  ...targetsTable(targets),
  '<!-- freshness:end -->',
];
const mdPath = writeSection(out, 'freshness', lines);

/** A run's phases, medians over the cycles, in words. */
function phaseNote(of: (c: Cycle) => Measured): string {
  const p = (f: (m: Measured['phases']) => number) => s2(mid((c) => f(of(c).phases)));
  return (
    `request to start ${p((x) => x.queue)} s, start to first Graph request ${p((x) => x.setUp)} s, Graph span ${p((x) => x.span)} s, ` +
    `last Graph response to the run's end (stored pictures, writes, change records, completion) ${p((x) => x.afterGraph)} s, end to seen ${p((x) => x.seen)} s`
  );
}
console.log(`wrote ${jsonPath} and ${mdPath}`);
process.exit(0);
