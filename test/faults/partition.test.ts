/**
 * Several worker hosts, and a partition. Three workers, each in a network namespace of its own (a
 * "host"), reach Redis, MongoDB and the simulated tenant only through a bridge this test makes
 * (support/network.ts). Mid-run, the host running the tenant is cut off: entirely, from MongoDB only,
 * or from Redis only; once another host has taken the tenant over, the cut heals. Each case checks
 * that another host finished the tenant, that MongoDB holds exactly the tenant's objects, that the
 * cut-off run wrote nothing once the new run had taken over (the lease's fence), and that every run
 * record tells the truth. Needs root for `ip netns`; elsewhere the suite is skipped and says why.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { testEnv } from '../support/env.js';
import { eventually } from '../support/eventually.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { FaultEngine } from './support/engine.js';
import {
  networkNamespacesUnavailable,
  startTestNetwork,
  type TestNetwork,
  type WorkerHost,
} from './support/network.js';
import { recordFault } from './support/outcomes.js';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.js';

const FILE = 'test/faults/partition.test.ts';
/** Pacing: each Graph page and each PowerShell object takes a while, so a run lasts tens of seconds. */
const GRAPH_LATENCY_MS = 300;
const PS_OBJECTS_PER_SECOND = 20;

const unavailable = networkNamespacesUnavailable();
if (unavailable) console.warn(`${FILE} skipped: ${unavailable}`);

/** A cut of one host, and its healing. */
interface Cut {
  apply(net: TestNetwork, host: WorkerHost): void;
  heal(net: TestNetwork, host: WorkerHost): void;
  /** The workers' settings besides FAST_ENV. */
  workerEnv?: Record<string, string>;
  /** How long another host may take to take the tenant over (default 60 s). */
  takeoverWithinMs?: number;
}

describe.skipIf(unavailable !== undefined)(
  `worker hosts in network namespaces, one partitioned mid-run${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let net: TestNetwork | undefined;
    let redis: PrivateRedis | undefined;
    let mongo: TcpProxy | undefined;
    let engine: FaultEngine | undefined;
    /** Cuts to heal if a case fails half-way (the network is removed in afterAll anyway). */
    const healing: (() => void)[] = [];

    beforeAll(async () => {
      net = startTestNetwork(3);
      redis = await startPrivateRedis({ persist: false, host: net.redisAddress });
      const local = new URL(testEnv().mongoUri);
      mongo = await startTcpProxy(
        { host: local.hostname, port: Number(local.port || 27017) },
        net.mongoAddress,
      );
    });
    afterEach(async () => {
      for (const heal of healing.splice(0)) {
        try {
          heal();
        } catch {
          // healed already
        }
      }
      await engine?.close();
      engine = undefined;
    });
    afterAll(async () => {
      try {
        await engine?.close();
        await mongo?.close();
        await redis?.close();
      } finally {
        net?.close();
      }
    });

    /** The hosts' MongoDB URI: the local one, through the proxy on the bridge. */
    function hostsMongoUri(): string {
      const uri = new URL(testEnv().mongoUri);
      uri.host = `${net!.mongoAddress}:${mongo!.port}`;
      return uri.toString();
    }

    /** The tenant's objects that carry a run's id, by kind and external id: when each was written. */
    async function writtenBy(e: FaultEngine, runId: string): Promise<Map<string, number>> {
      const out = new Map<string, number>();
      for (const k of ENTITY_KINDS) {
        const docs = await e.mongo.db
          .collection(k.collection)
          .find({ tenantId: e.tenantId, syncRunId: runId }, { projection: { externalId: 1, updatedAt: 1 } })
          .toArray();
        for (const d of docs) out.set(`${k.kind}/${String(d.externalId)}`, (d.updatedAt as Date).getTime());
      }
      return out;
    }

    /** How many kinds the tenant has objects of in MongoDB. */
    async function kindsStored(e: FaultEngine): Promise<number> {
      let n = 0;
      for (const k of ENTITY_KINDS)
        if ((await e.mongo.db.collection(k.collection).countDocuments({ tenantId: e.tenantId })) > 0) n++;
      return n;
    }

    /**
     * The case: three hosts, a paced tenant; once the run has stored objects, cut its host; once another
     * host's run holds the tenant, heal; then everything checked. Returns the cut-off run's final record.
     */
    async function partitionMidRun(
      label: string,
      cut: Cut,
    ): Promise<{ cutOff: SyncRun; wroteKinds: Set<string> }> {
      const n = net!;
      const e = (engine = await FaultEngine.start(label, {
        redisUrl: redis!.url,
        tenant: { host: n.tenantAddress, objectsPerSecond: PS_OBJECTS_PER_SECOND },
      }));
      e.sim.graph.setLatency(GRAPH_LATENCY_MS);
      const env = { MONGODB_URI: hostsMongoUri(), ...cut.workerEnv };
      await Promise.all(n.hosts.map((h, i) => e.spawnWorker(`host${i + 1}`, env, { netns: h.netns })));

      const first = await e.enqueue({ requestedBy: 'op' });
      const running = await eventually(async () => {
        const run = await e.runs.get(first.runId!);
        return run?.status === 'running' && run;
      }, 30_000);
      const host = n.hosts[Number(running.worker!.replace('host', '')) - 1]!;
      // Mid-run: the run has stored objects of some kinds, has others in flight, and is still going.
      await eventually(async () => (await kindsStored(e)) >= 2, 30_000);
      expect((await e.runs.get(first.runId!))?.status).toBe('running');

      cut.apply(n, host);
      healing.push(() => cut.heal(n, host));

      // Another host's run of the same job takes the tenant over (its lease lapsed or was released).
      const takeover = await eventually(async () => {
        const runs = await e.runs.list({ tenantId: e.tenantId, limit: 20 });
        return runs.find((r) => r.jobId === first.jobId && r.id !== running.id && r.status === 'running');
      }, cut.takeoverWithinMs ?? 60_000);
      expect(takeover.worker).not.toBe(running.worker);
      // The tenant's lease is the new run's (the cut-off host lost it by lapse or gave it up).
      const lease = await e.stores.leases.holder(e.tenantId);
      expect([lease?.owner, takeover.status]).toEqual([`${takeover.worker}/${first.jobId}`, 'running']);
      // What the cut-off run had written when the new run took over: nothing may change or join it.
      const before = await writtenBy(e, running.id);

      cut.heal(n, host);
      healing.pop();
      const healAt = Date.now();
      // The rest of the tenant need not crawl: only the hand-over is under test.
      e.sim.graph.setLatency(50);

      await eventually(async () => (await e.runs.get(takeover.id))?.status === 'succeeded', 90_000);
      const runs = await e.settledRuns(60_000);
      e.expectTruthful(runs);
      await e.expectMatchesDataset();

      // The fence held: every object carrying the cut-off run's id was written before the takeover.
      const after = await writtenBy(e, running.id);
      for (const [key, at] of after) {
        expect(before.get(key), `${key} written by the cut-off run after the takeover`).toBe(at);
        expect(at).toBeLessThan(takeover.startedAt!.getTime());
      }

      // The job's runs: attempts 1, 2, ... in order; only the last succeeded, on another host.
      const ofJob = runs.filter((r) => r.jobId === first.jobId).sort((a, b) => a.attempt - b.attempt);
      expect(ofJob.map((r) => r.attempt)).toEqual(ofJob.map((_, i) => i + 1));
      expect(ofJob.at(-1)).toMatchObject({ id: takeover.id, status: 'succeeded' });
      const cutOff = ofJob.find((r) => r.id === running.id)!;
      expect(cutOff.status).not.toBe('succeeded');
      expect(cutOff.worker).toBe(running.worker);
      // It says when it stopped, not when its record could be written again.
      expect(cutOff.endedAt!.getTime()).toBeLessThan(healAt);
      expect(cutOff.endedAt!.getTime()).toBeLessThanOrEqual(takeover.startedAt!.getTime());
      return { cutOff, wroteKinds: new Set([...before.keys()].map((key) => key.split('/')[0]!)) };
    }

    it('a host cut off entirely: another host finishes the tenant, the cut-off one writes nothing after', async () => {
      const { cutOff } = await partitionMidRun('partitionlink', {
        apply: (n, h) => n.cutOff(h),
        heal: (n, h) => n.reconnect(h),
      });
      expect(cutOff.error?.message).toBeTruthy();
      recordFault({
        id: 'partition-host-cut-off',
        fault:
          'the worker host running the tenant cut off from the network (link down) mid-run until another host took over',
        times: 1,
        engine:
          "another host's run took the job and the tenant's lease, and finished the tenant; the cut-off run wrote nothing after the takeover and its record ended before the heal, not succeeded",
        lost: 'nothing',
        file: FILE,
      });
    });

    it('a host cut from MongoDB only: another host finishes the tenant, the cut-off one writes nothing after', async () => {
      const { cutOff } = await partitionMidRun('partitionmongo', {
        apply: (n, h) => n.blackhole(h, n.mongoAddress),
        heal: (n, h) => n.heal(h, n.mongoAddress),
      });
      expect(cutOff.error?.message).toBeTruthy();
      recordFault({
        id: 'partition-host-cut-from-mongodb',
        fault:
          'the worker host running the tenant cut off from MongoDB only mid-run until another host took over',
        times: 1,
        engine:
          "another host's run took the job and the tenant's lease, and finished the tenant; the cut-off run wrote nothing after the takeover and its record ended before the heal, not succeeded",
        lost: 'nothing',
        file: FILE,
      });
    });

    it("a host cut from Redis only gives up the tenant's lease itself, so another host finishes long before it could lapse", async () => {
      const { cutOff, wroteKinds } = await partitionMidRun('partitionredis', {
        apply: (n, h) => n.blackhole(h, n.redisAddress),
        heal: (n, h) => n.heal(h, n.redisAddress),
        // A lease that would outlast the case: the takeover (seconds after the cut: the job's lock lapses,
        // another host takes the job) can only come this soon if the cut-off host gave the lease up
        // itself, while it still reached MongoDB and could have kept renewing it.
        workerEnv: { SYNC_LEASE_TTL_MS: '40000' },
        takeoverWithinMs: 25_000,
      });
      expect(cutOff).toMatchObject({ status: 'cancelled', error: { code: 'LOCK_LAPSING' } });
      // It recorded its own end (MongoDB answered), listing every kind it wrote objects of.
      expect(Object.keys(cutOff.kinds)).toEqual(expect.arrayContaining([...wroteKinds]));
      recordFault({
        id: 'partition-host-cut-from-redis',
        fault:
          'the worker host running the tenant cut off from Redis only mid-run; MongoDB and the tenant still reachable',
        times: 1,
        engine:
          "the cut-off run stopped within the job lock (LOCK_LAPSING, cancelled) and released the tenant's lease; another host's run took the job and finished the tenant; the cut-off run wrote nothing after",
        lost: 'nothing',
        file: FILE,
      });
    });
  },
);
