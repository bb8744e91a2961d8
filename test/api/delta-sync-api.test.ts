/**
 * The API's delta requests (docs/delta.md): `{ "mode": "delta" }` enqueues a delta run recorded as
 * such; while a full pull of the tenant waits, a delta request is answered 409 CONFLICT saying why,
 * with nothing queued or recorded; an unknown mode, or kinds with a delta run, are 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, startTestApi, type TestApi } from '../support/api.js';
import { validTenantInput } from '../support/fixtures.js';

describe('delta requests through the API', () => {
  let api: TestApi;
  let token = '';
  let tenantId = '';
  beforeAll(async () => {
    api = await startTestApi('api-delta', async (stores) => {
      token = (await stores.tokens.create({ name: 'ops', role: 'operator', scope: '*' }, 'test')).token;
      tenantId = (await stores.tenants.add(validTenantInput({ hierarchy: 'p.c', Tenant: { name: 'Delta' } })))
        .id;
    });
  });
  afterAll(async () => api?.close());

  const sync = (body: unknown) => callApi(api.base, token, 'POST', `/tenants/${tenantId}/sync`, body);

  it('enqueues a delta run, recorded with its mode', async () => {
    const answer = await sync({ mode: 'delta' });
    expect(answer.status).toBe(202);
    expect((await api.queue.getJob(answer.json.jobId))?.data.mode).toBe('delta');
    const run = await callApi(api.base, token, 'GET', `/runs/${answer.json.runId}`);
    expect(run.json.mode).toBe('delta');
  });

  it('answers 409 to a delta request while a full pull waits, and queues nothing', async () => {
    const full = await sync({});
    expect(full.status).toBe(202);
    const runsBefore = await api.stores.runs.collection.countDocuments({ tenantId });
    const refused = await sync({ mode: 'delta' });
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe('CONFLICT');
    expect(refused.json.message).toContain(
      `A full pull of tenant ${tenantId} is waiting to run (run ${full.json.jobId})`,
    );
    expect(await api.stores.runs.collection.countDocuments({ tenantId })).toBe(runsBefore);
  });

  it('refuses an unknown mode and kinds with a delta run, naming the field', async () => {
    const unknown = await sync({ mode: 'partial' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.problems?.[0]?.field).toContain('mode');
    const withKinds = await sync({ mode: 'delta', kinds: 'users' });
    expect(withKinds.status).toBe(400);
    expect(JSON.stringify(withKinds.json)).toContain('kinds');
  });
});
