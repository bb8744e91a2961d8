/**
 * `m365sync schedule show|set|clear` and the delta schedule, through the real program with real Redis
 * (BullMQ job schedulers) and the MongoDB-wire server: the delta interval set in minutes or a duration,
 * turned off with --no-delta, shown with its next run, cleared back to the default; M365SYNC_DELTA=false
 * turns it off whatever the tenant says; a bad value is refused naming the option.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaSchedulerId } from '../../queues/delta-schedules.js';
import { createTriggerQueue, schedulerId } from '../../queues/schedules.js';
import { cli } from '../support/cli.js';
import { testEnv } from '../support/env.js';
import { FIXTURE_DESTINATIONS, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';

let mongo: TestMongo;
let redis: TestRedis;
let queue: Queue;
let env: NodeJS.ProcessEnv;
let tenantId: string;
const ref = 'acme.uk/Scheduled';

beforeAll(async () => {
  mongo = await testMongo('schedcli');
  redis = await testRedis('schedcli');
  queue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
  env = {
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    M365SYNC_ENCRYPTION_KEYS: keyEntry('k1'),
    REDIS_URL: redis.url,
    M365SYNC_QUEUE_PREFIX: redis.prefix,
    M365SYNC_OPERATOR: 'sched@cli',
  };
  for (const d of FIXTURE_DESTINATIONS)
    expect(await cli(env, 'destinations', 'allow', d.kind, d.entry)).toMatchObject({ code: 0 });
  const file = join(await mkdtemp(join(tmpdir(), 'm365sync-schedcli-')), 'tenant.json');
  await writeFile(
    file,
    JSON.stringify(validTenantInput({ hierarchy: 'acme.uk', Tenant: { name: 'Scheduled' } })),
  );
  const added = await cli(env, 'tenants', 'add', '-f', file, '--json');
  expect(added.code, added.out).toBe(0);
  tenantId = (JSON.parse(added.out) as { id: string }).id;
}, 60_000);

afterAll(async () => {
  await queue?.close();
  await redis?.close();
  await mongo?.close();
});

const json = async (...argv: string[]) => {
  const result = await cli(env, ...argv, '--json');
  expect(result.code, result.out + result.err).toBe(0);
  return JSON.parse(result.out) as {
    active: boolean;
    source: string;
    delta: {
      enabled: boolean;
      everyMinutes: number;
      source: string;
      active: boolean;
      off?: string;
      next?: string;
    };
  };
};

describe('m365sync schedule and the delta schedule', () => {
  it('sets the delta interval in minutes or as a duration, shows it with its next run, and clears it', async () => {
    const set = await json('schedule', 'set', ref, '--delta-every', '30');
    expect(set.delta).toMatchObject({ enabled: true, everyMinutes: 30, source: 'override', active: true });
    const scheduler = await queue.getJobScheduler(deltaSchedulerId(tenantId));
    expect(scheduler?.every).toBe(30 * 60_000);
    expect(set.delta.next).toBe(new Date(scheduler!.next!).toISOString());
    expect(set).toMatchObject({ active: true }); // the nightly full pull stays scheduled

    expect((await json('schedule', 'set', ref, '--delta-every', '2h')).delta.everyMinutes).toBe(120);
    const shown = await cli(env, 'schedule', 'show', ref);
    expect(shown.code).toBe(0);
    const next = new Date((await queue.getJobScheduler(deltaSchedulerId(tenantId)))!.next!).toISOString();
    expect(shown.out).toContain(`  delta   every 120 min (override); next ${next}`);

    const off = await json('schedule', 'set', ref, '--no-delta');
    expect(off.delta).toEqual({
      enabled: false,
      everyMinutes: 0,
      source: 'override',
      off: 'override',
      active: false,
    });
    expect(await queue.getJobScheduler(deltaSchedulerId(tenantId))).toBeUndefined();
    expect(await queue.getJobScheduler(schedulerId(tenantId))).toBeDefined();
    expect((await cli(env, 'schedule', 'show', ref)).out).toContain(
      "  delta   off: the tenant's schedule sets no delta runs",
    );

    const disabled = await json('schedule', 'set', ref, '--disable');
    expect(disabled).toMatchObject({ active: false, delta: { enabled: false, off: 'schedule_disabled' } });

    const cleared = await json('schedule', 'clear', ref);
    expect(cleared.source).toBe('default');
    expect(cleared.delta).toMatchObject({ enabled: true, everyMinutes: 15, source: 'default', active: true });
    expect(await mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId })).toBe(0);
  });

  it('refuses an interval that is not whole minutes up to 24h, and --no-delta with --delta-every', async () => {
    for (const value of ['90s', '25h', 'often', '-5']) {
      const result = await cli(env, 'schedule', 'set', ref, '--delta-every', value, '--json');
      expect(result.code, value).toBe(2);
      expect(JSON.parse(result.out)).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('--delta-every'),
      });
    }
    const both = await cli(env, 'schedule', 'set', ref, '--no-delta', '--delta-every', '5');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--no-delta.*--delta-every|--delta-every.*--no-delta/);
    expect(await mongo.db.collection<{ _id: string }>('schedules').countDocuments({ _id: tenantId })).toBe(0);
  });

  it('with M365SYNC_DELTA=false, no tenant has a delta schedule, whatever it sets', async () => {
    const off = { ...env, M365SYNC_DELTA: 'false' };
    const result = await cli(off, 'schedule', 'set', ref, '--delta-every', '5', '--json');
    expect(result.code, result.out).toBe(0);
    expect(JSON.parse(result.out).delta).toMatchObject({
      enabled: false,
      everyMinutes: 5,
      off: 'installation_off',
      active: false,
    });
    expect(await queue.getJobScheduler(deltaSchedulerId(tenantId))).toBeUndefined();
    expect((await cli(off, 'schedule', 'show', ref)).out).toContain(
      '  delta   off: delta sync is off for this installation (M365SYNC_DELTA=false)',
    );
    expect((await json('schedule', 'clear', ref)).delta).toMatchObject({ enabled: true, active: true });
  });
});
