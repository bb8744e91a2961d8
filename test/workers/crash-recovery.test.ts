/**
 * Workers in child processes (`node --import tsx`, as `npx tsx` runs them), against this file's Redis prefix and database:
 * - SIGKILL mid-run: the stalled-job check returns the job, another worker completes it, and MongoDB
 *   holds exactly the full result;
 * - SIGSTOP (a stalled or partitioned zombie) until a new run has started, then SIGCONT: the zombie,
 *   which ignores its abort signal, writes nothing after the new run started (the fence stops it).
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImportedObjectStore } from '../../connectors/mongo/imported-objects.js';
import { SweepRecordStore } from '../../connectors/mongo/sweep-records.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import type { SyncWorker } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { printed, spawnTs } from '../support/child-process.js';
import { testEnv } from '../support/env.js';
import { testProcessor } from './support/test-processor.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastWorker,
  jobCounts,
  logOf,
  quietLogger,
  startTestWorker,
  sweepFreely,
} from './support/harness.js';

const CHILD = fileURLToPath(new URL('./support/child-worker.ts', import.meta.url));

describe('recovery from crashed and zombie workers', () => {
  let fx: QueueFixture;
  let child: ChildProcess | undefined;
  let rescuer: SyncWorker | undefined;

  function spawnChild(env: Record<string, string>): Promise<ChildProcess> {
    const proc = spawnTs(CHILD, [], {
      env: {
        ...process.env,
        CHILD_REDIS_URL: fx.redis.url,
        CHILD_PREFIX: fx.redis.prefix,
        CHILD_MONGODB_URI: testEnv().mongoUri,
        CHILD_DB: fx.db.databaseName,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    return printed(proc, 'stdout', 'ready', 'child worker', 20_000).then(() => proc);
  }

  beforeAll(async () => {
    fx = await queueFixture('crash');
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    child = undefined;
    await rescuer?.close(500);
    rescuer = undefined;
    await fx.queue.obliterate({ force: true });
    await fx.db.collection('test_log').deleteMany({});
  });
  afterAll(async () => {
    await fx.close();
  });

  async function startRescuer(version: string): Promise<SyncWorker> {
    rescuer = await startTestWorker({
      redis: fx.redisConfig,
      db: fx.db,
      processor: testProcessor(fx.db, { pages: 5, pageSize: 20, delayMs: 50, version }),
      settings: fastWorker,
      queueSettings: fastQueue,
      deleteThresholds: sweepFreely,
      workerId: 'rescuer',
      logger: quietLogger,
    });
    return rescuer;
  }

  it('recovers the job of a worker killed with SIGKILL mid-run, complete and correct', async () => {
    const tenantId = await addTenant(fx.db);
    // Yesterday's data: 150 users, 50 of which the tenant no longer has.
    const objects = new ImportedObjectStore(fx.db, new SweepRecordStore(fx.db));
    await objects.ensureIndexes();
    await objects.collection('users').insertMany(
      Array.from({ length: 150 }, (_, n) => ({
        tenantId,
        externalId: `user-${n}`,
        kind: 'users',
        hierarchy: 'old',
        syncRunId: 'yesterday',
        fence: 0,
        contentHash: 'old',
        firstSeenAt: new Date(0),
        updatedAt: new Date(0),
        data: { id: `user-${n}` },
      })),
    );
    const proc = await spawnChild({
      CHILD_PAGES: '5',
      CHILD_PAGE_SIZE: '20',
      CHILD_DELAY_MS: '400',
      CHILD_VERSION: 'v2',
    });
    const job = await enqueueUnrecorded(fx.queue, { tenantId, trigger: 'cli', requestedBy: 'op' }, fastQueue);
    await eventually(async () => (await logOf(fx.db)).some((e) => e.event === 'page' && e.pid === proc.pid));
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));

    await startRescuer('v2');
    await eventually(async () => (await jobCounts(fx.queue)).completed === 1, 20_000);
    const stored = await objects.collection('users').find({ tenantId }).toArray();
    expect(stored).toHaveLength(100);
    expect(stored.every((d) => d.data.version === 'v2' && d.hierarchy === 'provider.customer')).toBe(true);
    const runsOfJob = await fx.runs.list({ jobId: job.jobId });
    expect(runsOfJob.map((r) => [r.status, r.worker])).toEqual([
      ['succeeded', 'rescuer'],
      ['failed', 'child'],
    ]);
    expect(runsOfJob[1]!.error?.code).toBe('WORKER_LOST');
    // Pages the killed run wrote are unchanged for the rescuer (not rewritten); yesterday's extra 50
    // are swept; the counts describe objects exactly.
    const ofJob = new Set(runsOfJob.map((r) => r.id));
    expect(stored.every((d) => ofJob.has(d.syncRunId))).toBe(true);
    const users = runsOfJob[0]!.kinds.users!;
    expect(users.created + users.updated + users.unchanged).toBe(100);
    expect(users.created).toBe(0);
    expect(users.deleted).toBe(50);
  });

  it('lets a zombie worker write nothing after the new run started', async () => {
    const tenantId = await addTenant(fx.db);
    const zombie = await spawnChild({
      CHILD_PAGES: '8',
      CHILD_PAGE_SIZE: '20',
      CHILD_DELAY_MS: '300',
      CHILD_VERSION: 'zombie',
      CHILD_IGNORE_ABORT: '1',
      CHILD_LEASE_TTL_MS: '1000',
    });
    await enqueueUnrecorded(fx.queue, { tenantId, trigger: 'cli', requestedBy: 'op' }, fastQueue);
    await eventually(async () =>
      (await logOf(fx.db)).some((e) => e.event === 'page' && e.pid === zombie.pid),
    );
    zombie.kill('SIGSTOP'); // frozen: no lock renewal, no lease renewal, like a long GC or a partition

    await startRescuer('fresh');
    const rescuerStart = await eventually(async () =>
      (await logOf(fx.db)).find((e) => e.event === 'start' && e.pid === process.pid),
    );
    await eventually(async () =>
      (await logOf(fx.db)).some((e) => e.event === 'page' && e.pid === process.pid),
    );
    zombie.kill('SIGCONT'); // wakes up mid-way through the new run and carries on, ignoring its signal

    await eventually(
      async () => (await logOf(fx.db)).some((e) => e.event === 'end' && e.pid === zombie.pid),
      20_000,
    );
    await eventually(
      async () => (await logOf(fx.db)).some((e) => e.event === 'end' && e.pid === process.pid),
      20_000,
    );
    const log = await logOf(fx.db);
    const zombiePagesAfter = log.filter(
      (e) => e.pid === zombie.pid && e.event === 'page' && e.at >= rescuerStart.at,
    );
    expect(zombiePagesAfter).toEqual([]);
    expect(log.find((e) => e.pid === zombie.pid && e.event === 'error')?.message).toMatch(/lease|cancelled/i);
    const stored = await new ImportedObjectStore(fx.db, new SweepRecordStore(fx.db))
      .collection('users')
      .find({ tenantId })
      .toArray();
    expect(stored).toHaveLength(100);
    expect(stored.every((d) => d.data.version === 'fresh')).toBe(true);
  });
});
