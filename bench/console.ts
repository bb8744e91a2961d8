/**
 * The console's fleet page at fleet size: `npm run bench -- --console` (or `npx tsx bench/console.ts
 * [tenants…]`, default `50 5000`). For each size it seeds a database of its own with that many
 * tenants (copies of one real stored tenant document, 20 resellers), three runs each (succeeded,
 * partial, needs_review, failed; some queued and running) and their run summaries, then starts the
 * API, signs in as a viewer and times `GET /console` over real HTTP: the first page by staleness,
 * filtered by status, by place, and the last page sorted by name; each 7 times (the first reported
 * apart: the API starts reading the fleet when it starts, and the first request waits for that read).
 * It also times 200 run ends' summary upserts (the one write a run adds). BENCH_CONSOLE_PROFILE=1
 * also prints how long the fleet's reads take one by one.
 *
 * Writes the `console` section of bench/RESULTS.md and the `console_…` targets of bench/results.json
 * (bench/results-file.ts). Nothing here is asserted by a test: speed is measured, not tested.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ObjectId } from 'mongodb';
import { buildApi } from '../api/server.js';
import { connectMongo } from '../connectors/mongo/connection.js';
import { createKeyRing } from '../connectors/mongo/encryption.js';
import { openStores } from '../connectors/mongo/stores.js';
import { recordRunEnd, runSummaries } from '../connectors/mongo/run-summaries.js';
import { parseSettings } from '../domain/settings.js';
import type { RunStatus, SyncRun } from '../domain/sync-run.js';
import { redisSettings } from '../queues/connection.js';
import { createTriggerQueue } from '../queues/schedules.js';
import { createSyncQueue } from '../queues/sync-queue.js';
import { FIXTURE_DESTINATIONS, validTenantInput } from '../simulators/example-tenant.js';
import { writeResults, writeSection, type Target } from './results-file.js';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const SIZES = sizes.length > 0 ? sizes : [50, 5000];
const REPEATS = 7;
const KINDS = ['users', 'groups', 'teams', 'licences', 'mailboxes'];
const prefix = process.env.BENCH_REDIS_PREFIX ?? `bench-console-${randomBytes(3).toString('hex')}`;

interface Timing {
  what: string;
  coldMs: number;
  medianMs: number;
  maxMs: number;
  bytes: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (n: number) => Math.round(n * 10) / 10;

/** The status of a tenant's newest run: mostly succeeded, as in a healthy fleet. */
function statusOf(i: number): RunStatus {
  const r = i % 100;
  return r < 80 ? 'succeeded' : r < 88 ? 'partial' : r < 92 ? 'needs_review' : 'failed';
}

async function measure(tenants: number, server: { name: string }) {
  const name = `bench_console_${tenants}_${randomBytes(3).toString('hex')}`;
  const settings = parseSettings({
    ...process.env,
    M365SYNC_DB: name,
    M365SYNC_QUEUE_PREFIX: `${prefix}-${tenants}`,
  });
  const mongo = await connectMongo(settings);
  const build = await mongo.db.admin().command({ buildInfo: 1 });
  server.name = build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion}` : `MongoDB ${build.version}`;
  const stores = await openStores(mongo.db, createKeyRing(new Map([['bench', randomBytes(32)]])));
  const queue = createSyncQueue(redisSettings(settings), { commandTimeoutMs: 5000 });
  const triggerQueue = createTriggerQueue(redisSettings(settings));
  try {
    for (const d of FIXTURE_DESTINATIONS) await stores.destinations.allow(d.kind, d.entry);
    // One real stored tenant (encrypted secrets and all), copied: the fleet reads the same documents.
    const model = await stores.tenants.add(validTenantInput());
    const raw = (await mongo.db.collection('tenants').findOne({ _id: new ObjectId(model.id) }))!;
    await mongo.db.collection('tenants').deleteMany({});
    const seedStart = performance.now();
    const ids: ObjectId[] = [];
    for (let i = 0; i < tenants; i += 1000) {
      const docs = Array.from({ length: Math.min(1000, tenants - i) }, (_, j) => {
        const n = i + j;
        const _id = new ObjectId();
        ids.push(_id);
        return {
          ...raw,
          _id,
          hierarchy: `bench.reseller${n % 20}.customer${n}`,
          Tenant: { ...(raw.Tenant as object), name: `Customer ${n}` },
          createdAt: new Date(Date.now() - 90 * 86_400_000),
        };
      });
      await mongo.db.collection('tenants').insertMany(docs);
    }
    // Three runs per tenant, a day apart, the newest of the status statusOf gives; and its summary.
    const now = Date.now();
    const runs = mongo.db.collection('sync_runs');
    const summaries: object[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const docs = ids.slice(i, i + 100).flatMap((tenantId, j) => {
        const n = i + j;
        return [2, 1, 0].map((daysAgo) => {
          const status = daysAgo === 0 ? statusOf(n) : 'succeeded';
          const endedAt = new Date(now - daysAgo * 86_400_000 - (n % 600) * 60_000);
          const startedAt = new Date(endedAt.getTime() - 120_000);
          const doc = {
            // An id of the run's start time (ids grow with time, as the store's do), unique.
            _id: new ObjectId(
              Math.floor(startedAt.getTime() / 1000)
                .toString(16)
                .padStart(8, '0') + randomBytes(8).toString('hex'),
            ),
            tenantId: tenantId.toHexString(),
            hierarchy: `bench.reseller${n % 20}.customer${n}`,
            trigger: 'schedule',
            requestedBy: 'scheduler',
            jobId: 'j',
            attempt: 1,
            status,
            queuedAt: startedAt,
            startedAt,
            endedAt,
            kinds: Object.fromEntries(
              KINDS.map((k) => [
                k,
                {
                  status: 'succeeded',
                  created: 0,
                  updated: 3,
                  unchanged: 2000,
                  deleted: 0,
                  durationMs: 20_000,
                },
              ]),
            ),
            ...(status === 'failed'
              ? { error: { code: 'AUTHENTICATION', message: 'Could not sign in.' } }
              : {}),
          };
          return doc;
        });
      });
      // FerretDB answered a large batch late once and the driver's retry sent it again: a duplicate
      // key there is a document this insert already wrote.
      await runs.insertMany(docs, { ordered: false }).catch((error: { code?: number }) => {
        if (error.code !== 11000) throw error;
      });
      for (const doc of docs.slice(-docs.length).filter((_, k) => k % 3 === 2)) {
        const last = doc;
        summaries.push({
          _id: last.tenantId,
          lastRun: {
            id: last._id.toHexString(),
            status: last.status,
            mode: 'full',
            startedAt: last.startedAt,
            endedAt: last.endedAt,
            ...(last.error ? { errorCode: last.error.code } : {}),
          },
          lastSuccessAt:
            last.status === 'succeeded' ? last.endedAt : new Date(last.endedAt.getTime() - 86_400_000),
        });
      }
    }
    await runSummaries(mongo.db).insertMany(summaries as never[]);
    // Some tenants have a run waiting or going.
    const active = ids.slice(0, Math.max(1, Math.floor(tenants / 50))).map((tenantId, k) => ({
      _id: new ObjectId(),
      tenantId: tenantId.toHexString(),
      hierarchy: 'bench',
      trigger: 'schedule',
      requestedBy: 'scheduler',
      jobId: 'j',
      attempt: k % 2,
      status: k % 2 === 0 ? 'queued' : 'running',
      kinds: {},
    }));
    await runs.insertMany(active);
    const seedMs = performance.now() - seedStart;

    // The one write a run adds: its summary upsert at its end (200 of them, one at a time).
    const upserts: number[] = [];
    const summaryCollection = runSummaries(mongo.db);
    for (let k = 0; k < Math.min(200, ids.length); k++) {
      const tenantId = ids[(k * 7919) % ids.length]!.toHexString();
      const run = {
        id: new ObjectId().toHexString(),
        tenantId,
        status: 'succeeded',
        startedAt: new Date(),
        endedAt: new Date(),
      } as SyncRun;
      const t0 = performance.now();
      await recordRunEnd(summaryCollection, run);
      upserts.push(performance.now() - t0);
    }

    if (process.env.BENCH_CONSOLE_PROFILE) {
      const t = async (what: string, f: () => Promise<unknown>) => {
        const t0 = performance.now();
        await f();
        console.log(`profile ${tenants}: ${what} ${ms(performance.now() - t0)} ms`);
      };
      for (let r = 0; r < 2; r++) {
        await t('tenants.summaries', () => stores.tenants.summaries({ scope: '*' }));
        await t('runs.summaries', () => stores.runs.summaries());
        await t('runs.activeTenants', () => stores.runs.activeTenants());
      }
    }
    const { token } = await stores.tokens.create(
      { name: 'bench-viewer', role: 'viewer', scope: '*' },
      'bench',
    );
    const app = buildApi({
      stores,
      syncQueue: queue,
      triggerQueue,
      authentication: { tokens: stores.tokens },
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const signIn = await fetch(`${base}/console/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
        body: new URLSearchParams({ token }).toString(),
      });
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
      const pages = Math.max(1, Math.ceil(tenants / 50));
      const timings: Timing[] = [];
      for (const [what, path] of [
        ['first page, oldest data first', '/console'],
        ['failed only', '/console?status=failed'],
        ['one reseller', '/console?place=bench.reseller3'],
        ['last page by name', `/console?sort=name&page=${pages}`],
      ] as const) {
        const times: number[] = [];
        let bytes = 0;
        for (let r = 0; r < REPEATS; r++) {
          const t0 = performance.now();
          const response = await fetch(`${base}${path}`, { headers: { cookie } });
          const text = await response.text();
          times.push(performance.now() - t0);
          if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text.slice(0, 300)}`);
          bytes = text.length;
        }
        timings.push({
          what,
          coldMs: ms(times[0]!),
          medianMs: ms(median(times.slice(1))),
          maxMs: ms(Math.max(...times.slice(1))),
          bytes,
        });
      }
      return {
        tenants,
        seedMs: ms(seedMs),
        upsertMeanMs: ms(upserts.reduce((a, b) => a + b, 0) / upserts.length),
        upsertMaxMs: ms(Math.max(...upserts)),
        timings,
      };
    } finally {
      await app.close();
    }
  } finally {
    await queue.close();
    const redis = new Redis(settings.REDIS_URL);
    const keys = await redis.keys(`${prefix}-${tenants}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await triggerQueue.close();
    await mongo.db.dropDatabase().catch(() => {});
    await mongo.close();
  }
}

const started = new Date();
const server = { name: '' };
const results = [];
for (const size of SIZES) {
  const result = await measure(size, server);
  results.push(result);
  console.log(JSON.stringify(result));
}
const command = process.env.BENCH_COMMAND ?? `npx tsx bench/console.ts ${SIZES.join(' ')}`;
const largest = results[results.length - 1]!;
const worst = Math.max(...largest.timings.map((t) => t.medianMs));
const targets: Record<string, Target> = {
  [`console_fleet_${largest.tenants}_tenants_median_ms`]: {
    target: '< 1000 ms',
    measured: worst,
    met: worst < 1000,
  },
};
const backend = process.env.MONGODB_BACKEND ?? 'backend not recorded';
const lines = [
  '<!-- console:start (written by bench/console.ts; edit the analysis below the generated tables) -->',
  '## Console: the fleet page at fleet size',
  '',
  `\`${command}\` (${started.toISOString().slice(0, 10)}; ${server.name}, ${backend}; Redis on loopback; the API in`,
  'process, `GET /console` over real HTTP with a viewer session; 7 requests per line, the first (cold) apart)',
  '',
  '| tenants | page | first request | median of the other 6 | max of the other 6 | HTML bytes |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.flatMap((r) =>
    r.timings.map(
      (t) =>
        `| ${r.tenants.toLocaleString('en')} | ${t.what} | ${t.coldMs} ms | ${t.medianMs} ms | ${t.maxMs} ms | ${t.bytes.toLocaleString('en')} |`,
    ),
  ),
  '',
  ...results.map(
    (r) =>
      `- ${r.tenants.toLocaleString('en')} tenants: a run end's summary upsert (the one write a run adds) took ${r.upsertMeanMs} ms on average, ${r.upsertMaxMs} ms at most (200, one at a time); seeding took ${Math.round(r.seedMs)} ms.`,
  ),
  '',
  '| target | wanted | measured | met |',
  '| --- | --- | --- | --- |',
  ...Object.entries(targets).map(
    ([k, t]) => `| ${k} | ${t.target} | ${t.measured} ms | ${t.met ? 'yes' : '**no**'} |`,
  ),
  '<!-- console:end -->',
];
const out = process.env.BENCH_OUT ?? 'bench';
const mdPath = writeSection(out, 'console', lines);
const jsonPath = writeResults(out, {
  fields: { console: { command, at: started.toISOString(), server: server.name, results } },
  targets,
  owns: (t) => t.startsWith('console_'),
});
console.log(`wrote ${jsonPath} and ${mdPath}`);
process.exit(0);
