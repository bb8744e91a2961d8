/**
 * The nightly re-sync benchmark (issue 14): for tenants of several sizes, through the real queue,
 * worker and MongoDB-wire server, with the simulated tenant (Graph and two PowerShell proxies,
 * Exchange enabled) paced like the real services and running in its own process:
 *
 * - three runs per size, each on a fresh database: a first pull, an unchanged re-sync, and a re-sync
 *   after 1 % of the users changed and 0.5 % vanished; the median of the runs is reported;
 * - the lower bound of a run: its slowest independent chain, from the pacing (Graph pages in sequence
 *   per collection after licences; each PowerShell script's objects at the simulated rate);
 * - the store ceiling: the tenant's documents (read after the three syncs, in a child process) written
 *   again by a minimal `insertMany` loop at the best batch size, against the rate of the first pull's
 *   store phase (wall time during which a KindWriter.write was in progress);
 * - the peak RSS of the worker while a sync runs: the worker runs in its own process as in production
 *   (bench/worker-child.ts, a fresh one per run), apart from the bench's queue and stores, the
 *   simulated tenant and the ceiling.
 *
 * Each run's database, queue and syncs through the worker are bench/queue-run.ts's (shared with
 * bench/fleet.ts, which measures capacity with several worker processes and CPU per object).
 *
 * Through `npm run bench` (scripts/bench.sh), on the benchmark's own FerretDB/PostgreSQL
 * (`services.sh --bench`), each run's collections get the `_id` index MongoDB has
 * (bench/ferretdb-id-index.ts): without it every update by `_id` scans the collection, and the changed
 * re-sync measures FerretDB's scans rather than the engine. `--no-id-index` measures FerretDB as it comes.
 *
 *   npx tsx bench/nightly.ts [--quick] [--sizes 2000,10000,50000] [--runs 3] [--graph-latency-ms 200]
 *                            [--ps-rate 4000] [--out bench] [--verbose] [--trace] [--no-id-index]
 *                            [--heap-snapshot-mb N]
 *
 * `--trace` prints, per sync and kind, when its pages were written, the write time and the longest wait,
 * and the worker's memory at its peak. `--heap-snapshot-mb N` has the worker write one heap snapshot the
 * first time its heap in use passes N MB.
 *
 * Writes <out>/results.json (with a `targets` object of { target, measured, met }) and the "Nightly
 * re-sync" section of <out>/RESULTS.md. `--quick` (two small sizes, one run, out .data/bench-quick)
 * takes about a minute and only checks that the whole thing works.
 */
import { parseSettings } from '../domain/settings.js';
import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type { Db } from 'mongodb';
import { connectMongo } from '../connectors/mongo/connection.js';
import type { SyncRun } from '../domain/sync-run.js';
import { ENTITY_KINDS } from '../domain/entity-kinds.js';
import { addIdIndexes, ferretdbPostgresUrl, idIndexScans } from './ferretdb-id-index.js';
import type { KindTrace } from './worker-child.js';
import {
  FRESHNESS_TARGET_PREFIX,
  writeResults,
  writeSection,
  type Target,
  targetsTable,
  loadAverage,
} from './results-file.js';
import { benchArgs } from './args.js';
import { openQueueRun, runCounts, syncThrough } from './queue-run.js';
import {
  ask,
  startTenantChild,
  startWorkerChild,
  stopTenantChild,
  stopWorkerChild,
  type TenantChild,
} from './children.js';

const { flag, option } = benchArgs('bench/nightly.ts', {
  quick: 'flag',
  sizes: 'value',
  runs: 'value',
  'graph-latency-ms': 'value',
  'ps-rate': 'value',
  out: 'value',
  verbose: 'flag',
  trace: 'flag',
  'no-id-index': 'flag',
  'heap-snapshot-mb': 'value',
  'worker-node-flags': 'value',
});
const quick = flag('quick');
// V8 flags for the worker process (e.g. --worker-node-flags "--max-semi-space-size=32").
const workerNodeFlags = option('worker-node-flags', '').split(' ').filter(Boolean);
/** The heap growth the worker applied (SYNC_WORKER_HEAP_GROWTH_PERCENT; 0: V8's own), as it reports it. */
let heapGrowthPercent = 0;
// On the benchmark's FerretDB (scripts/bench.sh sets M365SYNC_BENCH_ID_INDEX): the `_id` index MongoDB
// has (bench/ferretdb-id-index.ts), unless --no-id-index.
const idIndex = process.env.M365SYNC_BENCH_ID_INDEX === '1' && !flag('no-id-index');
const sizes = option('sizes', quick ? '200,1000' : '2000,10000,50000')
  .split(',')
  .map(Number);
const runs = Number(option('runs', quick ? '1' : '3'));
// Pacing: real Graph takes 0.5–3 s for a page of 999 users, real cmdlets a few hundred objects/s;
// these defaults are at the fast end so the full benchmark fits in 20 minutes on two cores.
const graphLatencyMs = Number(option('graph-latency-ms', quick ? '50' : '500'));
const psRate = Number(option('ps-rate', quick ? '2000' : '1000'));
const out = option('out', quick ? '.data/bench-quick' : 'bench');
const PAGE = 999; // $top of users and groups (the tenant's blank page sizes)

function printTrace(label: string, trace: Record<string, KindTrace>): void {
  if (!flag('trace')) return;
  const s = (ms: number) => (ms / 1000).toFixed(1);
  console.log(
    `${label}: ` +
      Object.entries(trace)
        .map(
          ([kind, k]) =>
            `${kind} ${k.pages}p ${s(k.first)}→${s(k.last)}s write ${s(k.writeMs)}s gap≤${s(k.maxGap)}s`,
        )
        .join('; '),
  );
}

interface Phase {
  seconds: number;
  /** CPU seconds of this process (the worker) during the run. */
  cpuSeconds: number;
  objects: number;
  status: string;
  counts: { created: number; updated: number; unchanged: number; deleted: number };
}
interface SizeRun {
  first: Phase;
  unchanged: Phase;
  changed: Phase;
  lowerBound: number;
  storePhaseRate: number;
  ceilingRate?: number;
  ceilingBatch?: number;
  peakRssMb: number;
  /** On FerretDB/PostgreSQL with the `_id` index: how often PostgreSQL used it (0: it did not). */
  idIndexScans?: number;
}

/** The slowest independent chain of a run, in seconds, from the pacing and the kinds' sizes. */
function lowerBound(sizesByKind: Record<string, number>): number {
  const pages = (n: number) => Math.max(1, Math.ceil(n / PAGE));
  const graph =
    (1 +
      Math.max(
        pages(sizesByKind.users ?? 0),
        pages(sizesByKind.groups ?? 0),
        pages(sizesByKind.teams ?? 0),
      )) *
    graphLatencyMs;
  const script = (source: string) =>
    (ENTITY_KINDS.filter((k) => k.source === source).reduce((n, k) => n + (sizesByKind[k.kind] ?? 0), 0) /
      psRate) *
    1000;
  return Math.max(graph, script('teams'), script('exchange')) / 1000;
}

/** The best insertMany rate for the tenant's documents (bench/ceiling-child.ts, its own process). */
async function storeCeiling(db: Db, tenantId: string): Promise<{ rate: number; batch: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', new URL('./ceiling-child.ts', import.meta.url).pathname, db.databaseName, tenantId],
    { env: process.env, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as { rate: number; batch: number };
}

async function oneRun(users: number, sim: TenantChild, measureCeiling: boolean) {
  const bench = await openQueueRun('bench');
  const worker = await startWorkerChild(bench.workerStart(sim, idIndex), {
    nodeFlags: workerNodeFlags,
    heapSnapshotMb: option('heap-snapshot-mb', ''),
  });
  heapGrowthPercent = worker.heapGrowthPercent;
  const name = bench.name;
  let peakRss = 0;
  try {
    const tenant = await bench.stores.tenants.add(sim.tenantInput as never);
    const sync = async (): Promise<Phase & { run: SyncRun | null; storeMs: number }> => {
      const {
        seconds,
        stats: [stats],
        runs: [run],
        states: [state],
      } = await syncThrough(bench, [worker], [tenant.id]);
      peakRss = Math.max(peakRss, stats!.peak.rss);
      printTrace(`sync ${seconds.toFixed(1)} s`, stats!.trace);
      if (flag('trace')) {
        const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
        const { peak, after } = stats!;
        console.log(
          `worker CPU ${stats!.cpuSeconds.toFixed(1)} s, at peak RSS ${mb(peak.rss)}: heap ${mb(peak.heapUsed)} used of ${mb(peak.heapTotal)}, external ${mb(peak.external)} (array buffers ${mb(peak.arrayBuffers)}); after the run and a collection: heap ${mb(after.heapUsed)} used, RSS ${mb(after.rss)}`,
        );
      }
      const { objects, ...counts } = runCounts(run!);
      return {
        seconds,
        cpuSeconds: stats!.cpuSeconds,
        objects,
        status: run?.status ?? state!,
        counts,
        run: run!,
        storeMs: stats!.storeMs,
      };
    };
    const { run: firstRun, storeMs, ...first } = await sync();
    const storePhaseRate = first.counts.created / (storeMs / 1000);
    const sizesByKind = Object.fromEntries(
      Object.entries(firstRun?.kinds ?? {}).map(([k, r]) => [k, r.created]),
    );
    // The kinds' collections exist once the first pull has written them.
    if (idIndex) await addIdIndexes(ferretdbPostgresUrl(process.env), name);
    const { run: unchangedRun, storeMs: _u, ...unchanged } = await sync();
    if (flag('verbose'))
      console.log(
        'unchanged kinds:',
        Object.entries(unchangedRun?.kinds ?? {})
          .map(([k, r]) => `${k} ${(r.durationMs / 1000).toFixed(1)}s`)
          .join(', '),
      );
    await ask(
      sim.proc,
      {
        cmd: 'change',
        changed: Math.round(users * 0.01),
        removed: Math.round(users * 0.005),
      },
      'done',
    );
    const { run: _c, storeMs: _s, ...changed } = await sync();
    await ask(sim.proc, { cmd: 'reset' }, 'done');
    const indexScans = idIndex ? await idIndexScans(ferretdbPostgresUrl(process.env), name) : undefined;
    if (indexScans === 0)
      console.error(
        'bench: WARNING: FerretDB did not use the _id index (it keeps generic plans): run through npm run bench, whose FerretDB plans each statement (services.sh --bench)',
      );
    const ceiling = measureCeiling ? await storeCeiling(bench.mongo.db, tenant.id) : undefined;
    const result: SizeRun = {
      first,
      unchanged,
      changed,
      lowerBound: lowerBound(sizesByKind),
      storePhaseRate,
      peakRssMb: peakRss / 1024 / 1024,
      ...(indexScans !== undefined ? { idIndexScans: indexScans } : {}),
      ...(ceiling ? { ceilingRate: ceiling.rate, ceilingBatch: ceiling.batch } : {}),
    };
    return result;
  } finally {
    await stopWorkerChild(worker);
    await bench.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const started = Date.now();
const mongoProbe = await connectMongo(parseSettings({ ...process.env, M365SYNC_DB: 'admin' }));
const build = await mongoProbe.db.admin().command({ buildInfo: 1 });
await mongoProbe.close();
const server = build.ferretdbVersion
  ? `FerretDB ${build.ferretdbVersion} (${process.env.MONGODB_BACKEND ?? 'backend not recorded'}${idIndex ? ', with a GIN index on _id per collection' : ''})`
  : `MongoDB ${build.version}`;

const perSize: Record<number, { runs: SizeRun[]; median: Record<string, number> }> = {};
for (const users of sizes) {
  const sim = await startTenantChild(users, graphLatencyMs, psRate);
  const runsOfSize: SizeRun[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const run = await oneRun(users, sim, r === 0);
      runsOfSize.push(run);
      console.log(
        `${users} users, run ${r + 1}: first ${run.first.seconds.toFixed(1)} s (${run.first.objects} objects, ${run.first.status}), ` +
          `unchanged ${run.unchanged.seconds.toFixed(1)} s (worker CPU ${run.unchanged.cpuSeconds.toFixed(1)} s), changed ${run.changed.seconds.toFixed(1)} s ` +
          `(${JSON.stringify(run.changed.counts)}), lower bound ${run.lowerBound.toFixed(1)} s, peak RSS ${run.peakRssMb.toFixed(0)} MB`,
      );
    }
  } finally {
    stopTenantChild(sim);
  }
  const m = (f: (r: SizeRun) => number) => median(runsOfSize.map(f));
  perSize[users] = {
    runs: runsOfSize,
    median: {
      objects: m((r) => r.first.objects),
      firstSeconds: m((r) => r.first.seconds),
      unchangedSeconds: m((r) => r.unchanged.seconds),
      changedSeconds: m((r) => r.changed.seconds),
      firstCpuSeconds: m((r) => r.first.cpuSeconds),
      unchangedCpuSeconds: m((r) => r.unchanged.cpuSeconds),
      changedCpuSeconds: m((r) => r.changed.cpuSeconds),
      lowerBoundSeconds: m((r) => r.lowerBound),
      storePhaseRate: m((r) => r.storePhaseRate),
      ceilingRate: runsOfSize[0]!.ceilingRate ?? 0,
      ceilingBatch: runsOfSize[0]!.ceilingBatch ?? 0,
      peakRssMb: m((r) => r.peakRssMb),
      peakRssHighestMb: Math.max(...runsOfSize.map((r) => r.peakRssMb)),
    },
  };
}

// Targets (issue 14), from the medians.
const small = perSize[sizes[0]!]!.median;
const large = perSize[sizes[sizes.length - 1]!]!.median;
const round = (x: number, d = 2) => Number(x.toFixed(d));
const targets: Record<string, Target> = {};
for (const users of sizes) {
  const m = perSize[users]!.median;
  const vsBound = m.unchangedSeconds! / m.lowerBoundSeconds!;
  targets[`unchanged_resync_vs_lower_bound_${users}`] = {
    target: '<= 1.2',
    measured: round(vsBound),
    met: vsBound <= 1.2,
  };
  const vsFirst = m.unchangedSeconds! / m.firstSeconds!;
  targets[`unchanged_resync_vs_first_pull_${users}`] = {
    target: '<= 0.5',
    measured: round(vsFirst),
    met: vsFirst <= 0.5,
  };
  const fraction = m.ceilingRate ? m.storePhaseRate! / m.ceilingRate : 0;
  targets[`store_phase_vs_ceiling_${users}`] = {
    target: '>= 0.8',
    measured: round(fraction),
    met: fraction >= 0.8,
  };
}
for (const phase of ['first', 'unchanged', 'changed'] as const) {
  const per = (m: Record<string, number>) => m[`${phase}Seconds`]! / m.objects!;
  const ratio = per(large) / per(small);
  targets[`time_per_object_${phase}_${sizes[sizes.length - 1]}_vs_${sizes[0]}`] = {
    target: '<= 1.3',
    measured: round(ratio),
    met: ratio <= 1.3,
  };
}
targets[`peak_rss_mb_${sizes[sizes.length - 1]}`] = {
  target: '<= 300',
  measured: round(large.peakRssMb!, 0),
  met: large.peakRssMb! <= 300,
};
const rssRatio = large.peakRssMb! / small.peakRssMb!;
targets[`peak_rss_ratio_${sizes[sizes.length - 1]}_vs_${sizes[0]}`] = {
  target: '<= 1.5',
  measured: round(rssRatio),
  met: rssRatio <= 1.5,
};

const command = `npx tsx bench/nightly.ts ${process.argv.slice(2).join(' ')}`.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
const results = {
  generatedAt: new Date().toISOString(),
  // How it was started: through `npm run bench` (scripts/bench.sh says so), or directly.
  command: process.env.BENCH_COMMAND ?? command,
  script: command,
  machine,
  node: process.version,
  server,
  pacing: {
    graphPageLatencyMs: graphLatencyMs,
    powershellObjectsPerSecondPerCmdlet: psRate,
    graphPageSize: PAGE,
  },
  runsPerSize: runs,
  idIndex,
  worker: { heapGrowthPercent, nodeFlags: workerNodeFlags },
  durationSeconds: round((Date.now() - started) / 1000, 0),
  sizes: Object.fromEntries(sizes.map((u) => [u, perSize[u]])),
};
// The freshness benchmark's part of the file (bench/freshness.ts) stays as it was.
const jsonPath = writeResults(out, {
  fields: results,
  targets,
  owns: (name) => !name.startsWith(FRESHNESS_TARGET_PREFIX),
  first: true,
});

const s1 = (x: number) => x.toFixed(1);
const lines = [
  '<!-- nightly:start (written by bench/nightly.ts; edit the analysis below the generated tables) -->',
  '## Nightly re-sync against the lower bound (issue 14)',
  '',
  `\`${results.command}\` (\`${command}\`), ${results.generatedAt.slice(0, 10)}: ${machine}, Node ${process.version}, ${server}, Redis on loopback;`,
  `the simulated tenant in a child process, Graph ${graphLatencyMs} ms per page ($top ${PAGE}), each PowerShell cmdlet ${psRate} objects/s;`,
  `the worker in its own process (compiled), heap growth ${heapGrowthPercent ? `${heapGrowthPercent} %` : "V8's own"}${workerNodeFlags.length ? `, node ${workerNodeFlags.join(' ')}` : ''}.`,
  `Median of ${runs} run(s) per size, each on a fresh database; ${results.durationSeconds} s in all. Load average at the end ${loadAverage()} (the benchmark's own processes included).`,
  '',
  '| users | objects | first pull | unchanged re-sync | 1 % changed, 0.5 % gone | lower bound | unchanged ÷ bound | store phase | store ceiling | worker peak RSS (highest run) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...sizes.map((u) => {
    const m = perSize[u]!.median;
    return `| ${u.toLocaleString('en')} | ${m.objects!.toLocaleString('en')} | ${s1(m.firstSeconds!)} s | ${s1(m.unchangedSeconds!)} s | ${s1(m.changedSeconds!)} s | ${s1(m.lowerBoundSeconds!)} s | ${(m.unchangedSeconds! / m.lowerBoundSeconds!).toFixed(2)} | ${m.storePhaseRate!.toFixed(0)} docs/s | ${m.ceilingRate!.toFixed(0)} docs/s (batch ${m.ceilingBatch}) | ${m.peakRssMb!.toFixed(0)} MB (≤ ${m.peakRssHighestMb!.toFixed(0)}) |`;
  }),
  '',
  ...targetsTable(targets),
  '<!-- nightly:end -->',
];
const mdPath = writeSection(out, 'nightly', lines);
console.log(`wrote ${jsonPath} and ${mdPath}`);
process.exit(0);
