/**
 * Webhooks end to end over real sockets: subscriptions made through the API, sync runs ended by a
 * real worker (and one ended elsewhere, as the reaper or a cancel would), deliveries queued in Redis
 * and POSTed by the delivery worker to a real receiver on loopback. Checked: the signature verifies
 * over the exact bytes; a receiver failing twice gets three attempts, logged; a 400 is not retried; a
 * receiver the allow-list does not name is refused at creation, and a name resolving to a loopback
 * address no entry names is refused on the socket; the secret is in no answer after creation, no log
 * line, no job and no document in the clear.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ObjectId } from 'mongodb';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import {
  WEBHOOK_DELIVERIES_COLLECTION,
  type DeliveryAttempt,
} from '../../connectors/mongo/webhook-deliveries.js';
import { WEBHOOKS_COLLECTION } from '../../connectors/mongo/webhooks.js';
import { SyncError } from '../../domain/errors.js';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from '../../domain/webhook-signature.js';
import { createLogger } from '../../observability/logger.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import {
  WEBHOOK_JOB,
  createWebhookQueue,
  deliveryId,
  type WebhookJobData,
} from '../../queues/webhook-queue.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { startWebhooks, type Webhooks } from '../../workers/webhooks.js';
import type { SyncWorker } from '../../workers/worker.js';
import type { SyncProcessor } from '../../workers/processor.js';
import { cli } from '../support/cli.js';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastSettings,
  fastWorker,
  startTestWorker,
  sweepFreely,
} from '../workers/support/harness.js';
import { testProcessor } from '../workers/support/test-processor.js';
import { enqueueRecorded } from '../../operations/index.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A receiver on loopback: `/ok` 200, `/flaky` 500 twice then 200, `/bad` 400; it keeps every request.
 * Its 200 echoes the signature and the subscription's secret, and more than the log keeps.
 */
async function startReceiver(): Promise<{ port: number; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      const seen = received.filter((r) => r.path === path).length;
      if (path === '/flaky' && seen <= 2) return res.writeHead(500).end('not now');
      if (path === '/bad') return res.writeHead(400).end('no such portal tenant');
      res.writeHead(200, { 'content-type': 'text/plain' });
      const subscriptionId = String(req.headers[DELIVERY_HEADER]).split('-')[0];
      const secret = Object.values(hooks).find((h) => h.id === subscriptionId)?.secret;
      res.end(`thanks for ${req.headers[SIGNATURE_HEADER]} ${secret} ${'x'.repeat(5000)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const keys = keyEntry('k1');
let mongo: TestMongo;
let redis: TestRedis;
let stores: Stores;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let app: FastifyInstance;
let base: string;
let adminToken: string;
let syncQueue: Queue<SyncJobData, unknown, string>;
let webhookQueue: Queue<WebhookJobData, unknown, string>;
let webhooks: Webhooks;
let worker: SyncWorker;
const logLines: string[] = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
});

/** Subscriptions by name, with the secret each signs with. */
const hooks: Record<string, { id: string; secret: string }> = {};
const GIVEN_SECRET = 'given-secret-0123456789abcdefghijklmnopqrstuv';

async function api(method: string, path: string, body?: unknown, token = adminToken) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text || '{}') as Record<string, unknown> };
}

async function subscribe(name: string, body: Record<string, unknown>): Promise<void> {
  const created = await api('POST', '/webhooks', { name, ...body });
  expect(created.status, created.text).toBe(201);
  hooks[name] = { id: created.json.id as string, secret: (created.json.secret as string) ?? body.secret };
}

const attemptsOf = (name: string, runId?: string) =>
  mongo.db
    .collection<DeliveryAttempt>(WEBHOOK_DELIVERIES_COLLECTION)
    .find({ subscriptionId: hooks[name]!.id, ...(runId ? { runId } : {}) })
    .sort({ attempt: 1 })
    .toArray();

/** Processor of the run: the test processor, or a failure that is not retried for tenants named here. */
const failingTenants = new Set<string>();
let fine: SyncProcessor;
const processor: SyncProcessor = (ctx) =>
  failingTenants.has(ctx.tenant.id)
    ? Promise.reject(new SyncError('CONFIGURATION', 'the tenant is set up wrong', { retryable: false }))
    : fine(ctx);

async function syncAndWait(tenantId: string, hierarchy: string): Promise<string> {
  const runs = new SyncRunStore(mongo.db);
  const { runId } = await enqueueRecorded(
    { queue: syncQueue, stores: { runs }, settings: { ...fastSettings, SYNC_ATTEMPTS: 1 } },
    { request: { tenantId, trigger: 'api', requestedBy: 'webhook-test' }, hierarchy: hierarchy },
  );
  await eventually(async () => {
    const run = await runs.get(runId!);
    return run?.webhooksQueuedAt !== undefined;
  }, 45_000);
  return runId!;
}

let okTenant = '';
let okRun = '';
let failedRun = '';

beforeAll(async () => {
  mongo = await testMongo('webhooks');
  redis = await testRedis('webhooks');
  stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keys }));
  receiver = await startReceiver();
  await stores.destinations.allow('webhook', `127.0.0.1:${receiver.port}`);
  await stores.destinations.allow('webhook', 'localhost');
  adminToken = (await stores.tokens.create({ name: 'hooks-admin', role: 'admin', scope: '*' }, 'test')).token;
  syncQueue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  webhookQueue = createWebhookQueue({ url: redis.url, prefix: redis.prefix });
  app = buildApi({ stores, logger, syncQueue, authentication: { tokens: stores.tokens } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });

  const url = (path: string) => `http://127.0.0.1:${receiver.port}${path}`;
  await subscribe('portal-ok', { url: url('/ok') });
  await subscribe('portal-flaky', { url: url('/flaky'), statuses: ['succeeded'] });
  await subscribe('portal-bad', { url: url('/bad'), statuses: ['succeeded'] });
  await subscribe('portal-given', { url: url('/ok'), secret: GIVEN_SECRET, statuses: ['failed'] });
  await subscribe('portal-other', { url: url('/ok'), scope: 'elsewhere' });
  // An allowed name, but it resolves to loopback on a port no address entry names.
  await subscribe('portal-rebound', {
    url: `http://localhost:${receiver.port + 1}/ok`,
    statuses: ['failed'],
  });

  webhooks = await startWebhooks({
    redis: { url: redis.url, prefix: redis.prefix },
    stores,
    logger,
    settings: { attempts: 3, backoffDelayMs: 50, timeoutMs: 5000 },
    scanIntervalMs: 200,
  });
  fine = testProcessor(mongo.db, { pages: 1, pageSize: 3, delayMs: 1, version: 'v1' });
  worker = await startTestWorker({
    redis: { url: redis.url, prefix: redis.prefix },
    db: mongo.db,
    processor,
    settings: fastWorker,
    queueSettings: fastQueue,
    deleteThresholds: sweepFreely,
    logger,
    onRunsEnded: () => void webhooks.nudge(),
  });

  okTenant = await addTenant(mongo.db, 'provider.customer');
  okRun = await syncAndWait(okTenant, 'provider.customer');
  const failing = await addTenant(mongo.db, 'provider.customer');
  failingTenants.add(failing);
  failedRun = await syncAndWait(failing, 'provider.customer');
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await webhooks?.close();
  await app?.close();
  await syncQueue?.close();
  await webhookQueue?.close();
  await receiver?.close();
  await redis?.close();
  await mongo?.close();
});

describe('webhooks on run completion', () => {
  it('POSTs a signed run.completed body that verifies over the exact bytes, and only with the right secret', async () => {
    const delivered = await eventually(async () => {
      const got = receiver.received.find(
        (r) => r.path === '/ok' && JSON.parse(r.body.toString()).run.id === okRun,
      );
      return got;
    });
    expect(delivered.headers['content-type']).toBe('application/json');
    expect(delivered.headers[EVENT_HEADER]).toBe('run.completed');
    expect(delivered.headers[DELIVERY_HEADER]).toBe(`${hooks['portal-ok']!.id}-${okRun}`);
    const timestamp = delivered.headers[TIMESTAMP_HEADER] as string;
    const signature = delivered.headers[SIGNATURE_HEADER] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const secret = hooks['portal-ok']!.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const check = { secret, body: delivered.body, timestamp, signature };
    expect(verifyWebhookSignature(check)).toBe(true);
    // A changed byte, another secret, another timestamp, or the same delivery an hour later: refused.
    const tampered = Buffer.from(delivered.body.toString().replace('"succeeded"', '"failed"   '));
    expect(verifyWebhookSignature({ ...check, body: tampered })).toBe(false);
    expect(verifyWebhookSignature({ ...check, secret: GIVEN_SECRET })).toBe(false);
    expect(verifyWebhookSignature({ ...check, timestamp: String(Number(timestamp) - 1) })).toBe(false);
    expect(verifyWebhookSignature({ ...check, nowSeconds: Number(timestamp) + 3600 })).toBe(false);

    const body = JSON.parse(delivered.body.toString());
    expect(body).toMatchObject({
      event: 'run.completed',
      deliveryId: `${hooks['portal-ok']!.id}-${okRun}`,
      run: {
        id: okRun,
        status: 'succeeded',
        trigger: 'api',
        requestedBy: 'webhook-test',
        errorCode: null,
        counts: { created: 3, updated: 0, unchanged: 0, deleted: 0 },
        kinds: { users: { status: 'succeeded', created: 3 } },
      },
      tenant: { id: okTenant, name: `tenant ${okTenant}`, hierarchy: 'provider.customer' },
    });
    expect(Date.parse(body.run.endedAt)).toBeGreaterThanOrEqual(Date.parse(body.run.startedAt));
  });

  it('a receiver failing twice gets three attempts, each logged, the last delivered', async () => {
    const attempts = await eventually(async () => {
      const all = await attemptsOf('portal-flaky', okRun);
      return all.length === 3 && all;
    });
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, 'retrying'],
      [2, 500, 'retrying'],
      [3, 200, 'delivered'],
    ]);
    for (const a of attempts) {
      expect(a.deliveryId).toBe(`${hooks['portal-flaky']!.id}-${okRun}`);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
      expect(a.at).toBeInstanceOf(Date);
    }
    expect(attempts[0]!.response).toBe('not now');
    const sent = receiver.received.filter((r) => r.path === '/flaky');
    expect(sent).toHaveLength(3);
    // The same bytes each time, each signed anew.
    expect(new Set(sent.map((r) => r.body.toString())).size).toBe(1);
    for (const r of sent)
      expect(
        verifyWebhookSignature({
          secret: hooks['portal-flaky']!.secret,
          body: r.body,
          timestamp: r.headers[TIMESTAMP_HEADER] as string,
          signature: r.headers[SIGNATURE_HEADER] as string,
        }),
      ).toBe(true);
  });

  it('a 400 is not retried: one attempt, failed, and the job failed for good', async () => {
    const id = `${hooks['portal-bad']!.id}-${okRun}`;
    await eventually(async () => (await webhookQueue.getJobState(id)) === 'failed');
    const attempts = await attemptsOf('portal-bad');
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.outcome, a.response])).toEqual([
      [1, 400, 'failed', 'no such portal tenant'],
    ]);
    expect(receiver.received.filter((r) => r.path === '/bad')).toHaveLength(1);
    expect((await webhookQueue.getJob(id))?.attemptsMade).toBe(1);
  });

  it('hears only of the runs it asked for: scope, statuses, a given secret', async () => {
    await eventually(async () => (await attemptsOf('portal-given', failedRun)).length === 1);
    const toGiven = receiver.received.filter(
      (r) => r.headers[DELIVERY_HEADER] === `${hooks['portal-given']!.id}-${failedRun}`,
    );
    expect(toGiven).toHaveLength(1);
    const body = JSON.parse(toGiven[0]!.body.toString());
    expect(body.run).toMatchObject({ id: failedRun, status: 'failed', errorCode: 'CONFIGURATION' });
    // The error's text may name the provider's hosts: only its code goes out.
    expect(toGiven[0]!.body.toString()).not.toContain('set up wrong');
    expect(
      verifyWebhookSignature({
        secret: GIVEN_SECRET,
        body: toGiven[0]!.body,
        timestamp: toGiven[0]!.headers[TIMESTAMP_HEADER] as string,
        signature: toGiven[0]!.headers[SIGNATURE_HEADER] as string,
      }),
    ).toBe(true);
    expect(await attemptsOf('portal-given', okRun)).toEqual([]); // a succeeded run: not asked for
    expect(await attemptsOf('portal-flaky', failedRun)).toEqual([]);
    expect(await attemptsOf('portal-other')).toEqual([]); // its scope holds neither tenant
    const jobs = await webhookQueue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(jobs.filter((j) => j.data.subscriptionId === hooks['portal-other']!.id)).toEqual([]);
  });

  it('a name that resolves to a loopback address no entry names is refused on the socket, not retried', async () => {
    const attempts = await eventually(async () => {
      const all = await attemptsOf('portal-rebound', failedRun);
      return all.length > 0 && all;
    });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'failed', error: { code: 'EDESTINATIONREFUSED' } });
    expect(attempts[0]!.error!.message).toMatch(/resolves to .*not allowed/);
    await eventually(
      async () =>
        (await webhookQueue.getJobState(`${hooks['portal-rebound']!.id}-${failedRun}`)) === 'failed',
    );
  });

  it('a run ended elsewhere (the reaper, a cancel) is delivered by the next pass; one the queue retries is not', async () => {
    const runs = new SyncRunStore(mongo.db);
    const queued = async () => {
      const id = new ObjectId().toHexString();
      await runs.recordQueued({
        id,
        tenantId: okTenant,
        hierarchy: 'provider.customer',
        trigger: 'cli',
        requestedBy: 'someone',
        jobId: id,
      });
      return id;
    };
    const lost = await queued();
    await runs.endQueued(lost, { status: 'cancelled', error: { code: 'CANCELLED', message: 'an operator' } });
    const retried = await queued();
    await runs.finish(retried, {
      status: 'failed',
      error: { code: 'TRANSIENT', message: 'x' },
      willRetry: true,
    });
    const merged = await queued();
    await runs.endQueued(merged, { status: 'merged', mergedInto: okRun });
    // No nudge: the dispatcher's timer finds it.
    const attempts = await eventually(async () => {
      const all = await attemptsOf('portal-ok', lost);
      return all.length > 0 && all;
    });
    expect(attempts[0]).toMatchObject({ outcome: 'delivered', statusCode: 200 });
    await webhooks.nudge();
    expect(await mongo.db.collection(WEBHOOK_DELIVERIES_COLLECTION).countDocuments({ runId: retried })).toBe(
      0,
    );
    expect(await mongo.db.collection(WEBHOOK_DELIVERIES_COLLECTION).countDocuments({ runId: merged })).toBe(
      0,
    );
    expect((await runs.get(retried))?.webhooksQueuedAt).toBeUndefined();
  });

  it('keeps only a short excerpt of an answer, with the secret and the signature masked', async () => {
    const [attempt] = await eventually(async () => {
      const all = await attemptsOf('portal-ok', okRun);
      return all.length > 0 && all;
    });
    expect(attempt!.response!.length).toBeLessThanOrEqual(201);
    expect(attempt!.response).toMatch(/^thanks for \*{8} \*{8} x+…$/);
  });

  it('the secret is in no answer after creation, no log line, no job and no stored document', async () => {
    const secrets = [...Object.values(hooks).map((h) => h.secret), GIVEN_SECRET];
    const answers = [
      await api('GET', '/webhooks'),
      ...(await Promise.all(
        Object.keys(hooks).flatMap((name) => [
          api('GET', `/webhooks/${name}`),
          api('GET', `/webhooks/${name}/deliveries`),
        ]),
      )),
    ];
    for (const answer of answers) expect(answer.status).toBe(200);
    const jobs = await webhookQueue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect(Object.keys(job.data).sort()).toEqual(['body', 'runId', 'subscriptionId']);
    const stored = JSON.stringify([
      await mongo.db.collection(WEBHOOKS_COLLECTION).find({}).toArray(),
      await mongo.db.collection(WEBHOOK_DELIVERIES_COLLECTION).find({}).toArray(),
    ]);
    const places = {
      answers: answers.map((a) => a.text).join('\n'),
      logs: logLines.join(''),
      jobs: JSON.stringify(jobs.map((j) => [j.data, j.returnvalue, j.failedReason])),
      stored,
    };
    expect(places.logs).toContain('webhook delivery attempt'); // the logs were captured
    for (const [where, text] of Object.entries(places))
      for (const secret of secrets) expect(text, `${where} holds a secret`).not.toContain(secret);
    // Not echoed back at creation when it was given.
    const given = await api('POST', '/webhooks', {
      name: 'given-again',
      url: `http://127.0.0.1:${receiver.port}/ok`,
      secret: GIVEN_SECRET,
    });
    expect(given.status).toBe(201);
    expect(given.text).not.toContain(GIVEN_SECRET);
    expect(given.json.secret).toBeUndefined();
  });
});

describe('webhook subscriptions: what is refused', () => {
  it('a receiver the allow-list does not name is refused at creation, naming the field; nothing stored', async () => {
    const before = await mongo.db.collection(WEBHOOKS_COLLECTION).countDocuments();
    for (const url of [
      `http://127.0.0.1:${receiver.port + 2}/`, // the allowed address, another port
      'http://10.1.2.3/hook',
      'https://portal.example.net/hook',
      'http://[::1]/hook',
    ]) {
      const answer = await api('POST', '/webhooks', { name: 'refused', url });
      expect(answer.status, url).toBe(400);
      expect(answer.json).toMatchObject({ code: 'INVALID_INPUT', problems: [{ field: 'url' }] });
      expect(answer.text).toContain('m365sync destinations allow webhook');
    }
    // What the schema (the OpenAPI document) refuses: a field it does not know, a status not announced.
    const unknown = await api('POST', '/webhooks', {
      name: 'refused',
      url: `http://127.0.0.1:${receiver.port}/ok`,
      statuses: ['merged'],
      colour: 'blue',
    });
    expect(unknown.status).toBe(400);
    expect((unknown.json.problems as { field: string }[]).map((p) => p.field).sort()).toEqual([
      'body',
      'statuses.0',
    ]);
    // What the rules refuse, every problem named, the given secret never echoed.
    const bad = await api('POST', '/webhooks', {
      name: 'x y',
      url: 'ftp://user:pw@127.0.0.1/',
      scope: 'a..b',
      secret: 'short secret',
    });
    expect(bad.status).toBe(400);
    expect((bad.json.problems as { field: string }[]).map((p) => p.field).sort()).toEqual([
      'name',
      'scope',
      'secret',
      'url',
    ]);
    expect(bad.text).not.toContain('short secret');
    expect(await mongo.db.collection(WEBHOOKS_COLLECTION).countDocuments()).toBe(before);
  });

  it('a name already used is a clear 400; a delivery still queued for a removed subscription is dropped', async () => {
    const again = await api('POST', '/webhooks', {
      name: 'portal-ok',
      url: `http://127.0.0.1:${receiver.port}/ok`,
    });
    expect(again.status).toBe(400);
    expect(again.json.problems).toEqual([
      { field: 'name', message: '"portal-ok" is already used by a webhook' },
    ]);
    const removed = await api('DELETE', '/webhooks/given-again');
    expect(removed.status).toBe(200);
    expect(removed.json.name).toBe('given-again');
    expect((await api('GET', '/webhooks/given-again')).status).toBe(404);
    const before = receiver.received.length;
    const data = {
      subscriptionId: removed.json.id as string,
      runId: okRun,
      body: { event: 'run.completed' },
    };
    const job = await webhookQueue.add(WEBHOOK_JOB, data, { jobId: deliveryId(data) });
    await eventually(async () => (await webhookQueue.getJobState(job.id!)) === 'completed');
    expect((await webhookQueue.getJob(job.id!))?.returnvalue).toEqual({
      skipped: 'the subscription was removed',
    });
    expect(receiver.received.length).toBe(before);
  });
});

describe('m365sync webhooks', () => {
  const envOf = () => ({
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    [ENCRYPTION_KEYS_VARIABLE]: '',
  });
  const CLI_SECRET = 'cli-given-secret-0123456789abcdefghijklmnop';

  it('adds (printing a generated secret once), lists, shows deliveries and removes', async () => {
    const env = { ...envOf(), [ENCRYPTION_KEYS_VARIABLE]: keys };
    const url = `http://127.0.0.1:${receiver.port}/ok`;
    const added = await cli(
      env,
      'webhooks',
      'add',
      '--name',
      'cli-portal',
      '--url',
      url,
      '--status',
      'failed',
    );
    expect(added.code, added.err).toBe(0);
    const secret = /Signing secret: (whsec_\S+)/.exec(added.out)?.[1];
    expect(secret).toBeDefined();
    expect(added.err).toContain('only time the secret is shown');

    const dir = await mkdtemp(join(tmpdir(), 'm365sync-webhook-'));
    const secretFile = join(dir, 'secret.txt');
    await writeFile(secretFile, `${CLI_SECRET}\n`);
    const given = await cli(
      env,
      'webhooks',
      'add',
      '--name',
      'cli-given',
      '--url',
      url,
      '--secret-file',
      secretFile,
    );
    expect(given.code, given.err).toBe(0);
    expect(given.out).toContain('It signs with the secret you gave.');
    expect(given.out + given.err).not.toContain(CLI_SECRET);
    const givenId = (await stores.webhooks.get('cli-given')).id;
    expect((await stores.webhooks.withSecret(givenId))?.secret).toBe(CLI_SECRET); // without its line ending
    await rm(dir, { recursive: true, force: true });

    const unreadable = await cli(
      env,
      'webhooks',
      'add',
      '--name',
      'cli-x',
      '--url',
      url,
      '--secret-file',
      secretFile,
    );
    expect(unreadable.code).toBe(2);
    expect(unreadable.err).toContain('--secret-file: cannot be read (ENOENT)');

    const refused = await cli(env, 'webhooks', 'add', '--name', 'cli-x', '--url', 'http://10.0.0.1/');
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('m365sync destinations allow webhook 10.0.0.1');

    // Reading needs no key.
    const listed = await cli(envOf(), 'webhooks', 'list', '--json');
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toContain('cli-portal');
    expect(listed.out).not.toContain(secret!);
    expect(listed.out).not.toContain(CLI_SECRET);

    const log = await cli(envOf(), 'webhooks', 'deliveries', 'portal-flaky', '--run', okRun);
    expect(log.code, log.err).toBe(0);
    expect(log.out.split('\n')).toHaveLength(4); // header and three attempts
    expect(log.out).toMatch(/retrying\s+HTTP 500/);
    const badLimit = await cli(envOf(), 'webhooks', 'deliveries', 'portal-flaky', '--limit', 'abc');
    expect(badLimit.code).toBe(2);

    const removed = await cli(envOf(), 'webhooks', 'remove', 'cli-portal');
    expect(removed).toMatchObject({ code: 0 });
    expect((await cli(envOf(), 'webhooks', 'remove', 'cli-portal')).code).toBe(5); // not found
  });
});
