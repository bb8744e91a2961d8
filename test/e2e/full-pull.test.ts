/**
 * The product's main job end to end: real Redis, the real MongoDB-wire server, the Graph simulator and
 * two simulated PowerShell proxies over one generated tenant; a worker runs the full pull.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';
import { changeDataset, type Dataset } from '../../simulators/dataset.js';
import type { SimulatedTenant } from '../../simulators/m365.js';
import type { TestMongo } from '../support/services.js';
import { startEngine, type Engine } from './support/engine.js';
import { expectedIds as expectedIdsOf } from '../support/expected-ids.js';
import { createLogger } from '../../observability/logger.js';
import { registry } from '../../observability/metrics.js';
import { tenantSecrets, validateTenant } from '../../domain/tenant.js';

/** What each collection must hold for a data set (Exchange enabled here). */
const expectedIds = (ds: Dataset) => expectedIdsOf(ds, { exchange: true });

describe('a full pull end to end', { timeout: 180_000 }, () => {
  let engine: Engine;
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let queue: Engine['queue'];
  let tenantId: string;
  // Everything the worker and the full pull log, at debug level, through the production redaction.
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logLines.push(line) },
  });

  const stored = async () => {
    const out: Record<string, string[]> = {};
    for (const k of ENTITY_KINDS) {
      const docs = await mongo.db
        .collection(k.collection)
        .find({ tenantId }, { projection: { externalId: 1 } })
        .toArray();
      out[k.kind] = docs.map((d) => String(d.externalId)).sort();
    }
    return out;
  };
  const sync = (requestedBy: string) => engine.sync(tenantId, requestedBy);

  beforeAll(async () => {
    engine = await startEngine('e2e', { dataset: { seed: 11, users: 150 }, enableExchange: true, logger });
    ({ sim, mongo, queue } = engine);
    tenantId = (await engine.stores.tenants.add(sim.tenantInput)).id;
  }, 120_000);

  afterAll(async () => engine?.close());

  it('lands every object of every kind with the counts of the data set', async () => {
    const run = await sync('first');
    expect(run?.status).toBe('succeeded');
    expect(await stored()).toEqual(expectedIds(sim.dataset()));
    const expected = expectedIds(sim.dataset());
    for (const k of ENTITY_KINDS) {
      expect(run?.kinds[k.kind], k.kind).toMatchObject({
        status: 'succeeded',
        created: expected[k.kind]!.length,
        deleted: 0,
      });
    }
    // Stamped with the run and the tenant's hierarchy; Graph's @odata keys never reach MongoDB.
    const user = await mongo.db.collection('users').findOne({ tenantId });
    expect(user).toMatchObject({ syncRunId: run!.id, hierarchy: 'demo.provider.contoso' });
    expect(JSON.stringify(user)).not.toContain('@odata.');
    expect((user!.data as { skuPartNumbers?: string[] }).skuPartNumbers).toBeDefined();
    // Every shell was deleted.
    for (const proxy of sim.proxies) expect(proxy.counters.openShells).toBe(0);
  });

  it('a second run after the tenant changed leaves MongoDB equal to the new data set, with the change counts', async () => {
    const next = changeDataset(sim.dataset(), {
      addUsers: 6,
      removeUsers: 9,
      renameUsers: 4,
      removePolicies: 2,
    });
    sim.setDataset(next);
    const run = await sync('second');
    expect(run?.status).toBe('succeeded');
    expect(await stored()).toEqual(expectedIds(next));
    expect(run?.kinds.users).toMatchObject({ created: 6, updated: 4, deleted: 9 });
    expect(run?.kinds.users?.unchanged).toBe(next.users.length - 6 - 4);
    expect(run?.kinds.policies).toMatchObject({ created: 0, deleted: 2, updated: 0 });
    expect(run?.kinds.dial_plans).toMatchObject({
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: next.teams.dialPlans.length,
    });
  });

  it('a Teams script that fails mid-way ends partial, keeps yesterday’s Teams data and still refreshes Graph', async () => {
    const before = await stored();
    const next = changeDataset(sim.dataset(), { removeUsers: 5 });
    sim.setDataset(next);
    // Teams users come last in the Teams script (domain/sync-plan.ts), after the small Teams kinds.
    const small = before.dial_plans!.length + before.policies!.length;
    sim.setPowerShellFaults({ crashAfterObjects: small + 1 });
    try {
      const run = await sync('third');
      expect(run?.status).toBe('partial');
      const now = await stored();
      // Graph kinds follow the new data set…
      expect(now.users).toEqual(expectedIds(next).users);
      expect(run?.kinds.users).toMatchObject({ status: 'succeeded', deleted: 5 });
      // …while the Teams kinds that did not complete swept nothing: yesterday's Teams users are all
      // there, the removed users' ones included.
      expect(run?.kinds.dial_plans?.status).toBe('succeeded');
      expect(run?.kinds.teams_users?.status).toBe('failed');
      expect(run?.kinds.teams_users?.error?.message).toMatch(/Microsoft Teams PowerShell script stopped/);
      expect(now.teams_users).toEqual(before.teams_users);
      expect(now.teams_users).not.toEqual(expectedIds(next).teams_users);
      expect(now.phone_numbers).toEqual(before.phone_numbers);
    } finally {
      sim.setPowerShellFaults({});
    }
  });

  it("masks the tenant's secrets in a kind's err line before it reaches the run record", async () => {
    const [secret] = tenantSecrets(validateTenant(sim.tenantInput));
    sim.setPowerShellFaults({
      failKinds: {
        dial_plans: {
          afterObjects: 0,
          message: `The proxy refused '${secret}' (${encodeURIComponent(secret!)})`,
        },
      },
    });
    try {
      const run = await sync('err-line');
      expect(run?.status).toBe('partial');
      expect(run?.kinds.dial_plans?.status).toBe('failed');
      expect(run?.kinds.dial_plans?.error?.message).toBe(
        "Microsoft Teams: dial_plans failed: The proxy refused '********' (********)",
      );
    } finally {
      sim.setPowerShellFaults({});
    }
  });

  it('puts no secret in a log line, a job, a metric or a run record', async () => {
    const secrets = tenantSecrets(validateTenant(sim.tenantInput));
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    expect(logLines.length).toBeGreaterThan(10);
    const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'prioritized', 'active', 'delayed']);
    expect(jobs.length).toBeGreaterThan(0);
    const seen = [
      logLines.join(''),
      JSON.stringify(
        jobs.map((j) => ({ data: j.data, returnvalue: j.returnvalue, failedReason: j.failedReason })),
      ),
      await registry.metrics(),
      JSON.stringify(await mongo.db.collection('sync_runs').find({}).toArray()),
    ].join('\n');
    for (const secret of secrets) expect(seen).not.toContain(secret);
  });
});
