/**
 * The simulated Graph speaks delta (GET /users/delta, /groups/delta) as Microsoft documents it, over
 * real HTTPS: first rounds paged to a deltaLink, later rounds with exactly what changed between two
 * data sets, partial objects and `Prefer: return=minimal`, soft and hard removals, members@delta across
 * pages, `$deltatoken=latest`, the `id eq` filter, expired tokens, 410 resync, and the quirks a client
 * must absorb (duplicates, late and replayed changes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { changeDataset } from '../../../simulators/dataset.js';
import type { DeltaOptions, GraphSimulator } from '../../../simulators/graph/server.js';
import { DeltaClient, Replica, type Obj } from './support/delta-client.js';
import { startTenant } from './support/simulated-graph.js';

const USERS = '/v1.0/users/delta';
const GROUPS = '/v1.0/groups/delta';

let sim: GraphSimulator | undefined;
let client: DeltaClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  sim = client = undefined;
});

async function start(delta: DeltaOptions = {}, sizes = { users: 30, groups: 4, teams: 1 }) {
  sim = await startTenant(sizes, { delta: { pageSize: 7, ...delta } });
  client = new DeltaClient(sim);
  await client.signIn();
  return { sim, client };
}

const ids = (objects: Obj[]) => objects.map((o) => o.id);
const byId = (objects: Obj[]) => new Map(objects.map((o) => [o.id, o]));

describe('the simulated Graph delta query', () => {
  it('pages a first round to a deltaLink with the server page size, $top ignored, never-set properties absent', async () => {
    const { sim, client } = await start();
    const round = await client.round(`${USERS}?$top=2`);
    expect(ids(round.objects).sort()).toEqual(
      sim
        .dataset()
        .users.map((u) => u.id)
        .sort(),
    );
    expect(round.pages.map((p) => p.length)).toEqual([7, 7, 7, 7, 2]);
    expect(round.deltaLink).toMatch(new RegExp(`^${sim.url}/v1\\.0/users/delta\\?\\$deltatoken=[\\w-]+$`));
    // nextLinks carry only the opaque token: the query is in it
    for (const url of round.urls.slice(1)) expect(url).toMatch(/\/v1\.0\/users\/delta\?\$skiptoken=[\w-]+$/);
    // Graph's default user properties, less those never set (null in /users)
    expect(Object.keys(round.objects[0]!).sort()).toEqual(
      [
        'id',
        'businessPhones',
        'displayName',
        'givenName',
        'jobTitle',
        'mail',
        'surname',
        'userPrincipalName',
      ].sort(),
    );
    // nothing changed: the next round is one empty page with a new deltaLink
    const again = await client.round(round.deltaLink);
    expect(again.pages).toEqual([[]]);
    expect(again.deltaLink).not.toBe(round.deltaLink);
  });

  it('returns exactly what changed; merged into the first round it equals a fresh first round', async () => {
    const { sim, client } = await start();
    const select = '$select=displayName,jobTitle,assignedLicenses,accountEnabled';
    const first = await client.round(`${USERS}?${select}`);
    const replica = new Replica().apply(first.objects);
    const before = sim.dataset();
    const next = changeDataset(before, {
      renameUsers: 2,
      licenseUsers: 2,
      unlicenseUsers: 1,
      softDeleteUsers: 2,
      removeUsers: 1,
      addUsers: 2,
    });
    sim.setDataset(next);
    const round = await client.round(first.deltaLink);
    const got = byId(round.objects);
    const beforeIds = new Set(before.users.map((u) => u.id));
    const nextIds = new Set(next.users.map((u) => u.id));
    const added = next.users.filter((u) => !beforeIds.has(u.id)).map((u) => u.id);
    const soft = next.deletedItems!.users.map((u) => u.id);
    const hard = before.users.filter((u) => !nextIds.has(u.id) && !soft.includes(u.id)).map((u) => u.id);
    const changed = next.users.filter(
      (u) =>
        beforeIds.has(u.id) && JSON.stringify(u) !== JSON.stringify(before.users.find((b) => b.id === u.id)),
    );
    expect(added).toHaveLength(2);
    expect(soft).toHaveLength(2);
    expect(hard).toHaveLength(1);
    expect(changed).toHaveLength(5); // 2 renamed, 2 licensed, 1 unlicensed
    expect([...got.keys()].sort()).toEqual([...added, ...soft, ...hard, ...changed.map((u) => u.id)].sort());
    for (const id of soft) expect(got.get(id)).toEqual({ id, '@removed': { reason: 'changed' } });
    for (const id of hard) expect(got.get(id)).toEqual({ id, '@removed': { reason: 'deleted' } });
    // an update carries the selected properties (changed or not), a licence change included
    const renamed = got.get(next.users[0]!.id)!;
    expect(renamed).toEqual({
      id: next.users[0]!.id,
      displayName: next.users[0]!.displayName,
      jobTitle: next.users[0]!.jobTitle,
      accountEnabled: next.users[0]!.accountEnabled,
      assignedLicenses: next.users[0]!.assignedLicenses,
    });
    expect(renamed.displayName).toMatch(/\(renamed\)$/);
    const licensed = got.get(next.users[2]!.id)!;
    expect(licensed.assignedLicenses).toEqual(next.users[2]!.assignedLicenses);

    replica.apply(round.objects);
    const fresh = await client.round(`${USERS}?${select}`);
    expect(replica.snapshot()).toEqual(new Replica().apply(fresh.objects).snapshot());
  });

  it('keeps $select in the token; with Prefer: return=minimal only changed properties, a cleared one as null', async () => {
    const { sim, client } = await start();
    const first = await client.round(`${USERS}?$select=displayName,jobTitle,department,mobilePhone`);
    expect(Object.keys(first.objects[0]!).sort()).toEqual(['department', 'displayName', 'id', 'jobTitle']);
    const next = structuredClone(sim.dataset());
    next.users[0]!.displayName = 'New Name';
    (next.users[0] as unknown as { jobTitle: null }).jobTitle = null;
    next.users[1]!.department = 'Renamed Department';
    next.users[2]!.usageLocation = 'XX'; // not selected: user 2 is not in the round
    sim.setDataset(next);

    const minimal = await client.round(first.deltaLink, { prefer: 'return=minimal' });
    const [u0, u1] = [next.users[0]!.id, next.users[1]!.id];
    expect(minimal.objects).toEqual([
      { id: u0, displayName: 'New Name', jobTitle: null },
      { id: u1, department: 'Renamed Department' },
    ]);
    // the same round without the header: every selected property that was ever set, old values too
    const full = await client.round(first.deltaLink);
    expect(byId(full.objects).get(u0)).toEqual({
      id: u0,
      displayName: 'New Name',
      jobTitle: null,
      department: next.users[0]!.department,
    });
    expect(ids(full.objects)).toEqual([u0, u1]);

    // a different $select with the deltaLink, or any with a nextLink, is refused: it is in the token
    const changedSelect = await client.get(`${first.deltaLink}&$select=displayName`);
    expect(changedSelect.status).toBe(400);
    expect(changedSelect.body.error).toMatchObject({ code: 'Request_UnsupportedQuery' });
    const page = await client.get(`${USERS}?$select=displayName`);
    const withSkip = await client.get(`${page.body['@odata.nextLink'] as string}&$select=displayName`);
    expect(withSkip.status).toBe(400);
    const unknown = await client.get(`${USERS}?$select=displayName,skills`);
    expect(unknown.status).toBe(400);
  });

  it('leaves out a change to a property outside $select (a licence change without assignedLicenses)', async () => {
    const { sim, client } = await start();
    const names = await client.round(`${USERS}?$select=displayName`);
    const licences = await client.round(`${USERS}?$select=assignedLicenses`);
    sim.setDataset(changeDataset(sim.dataset(), { licenseUsers: 3 }));
    expect((await client.round(names.deltaLink)).objects).toEqual([]);
    const licensed = await client.round(licences.deltaLink);
    expect(licensed.objects).toHaveLength(3);
    for (const o of licensed.objects) {
      expect(o.assignedLicenses).toEqual(sim.dataset().users.find((u) => u.id === o.id)!.assignedLicenses);
    }
  });

  it('tracks groups: members@delta across pages, membership added and removed, created, renamed, removed', async () => {
    const { sim, client } = await start({ pageSize: 5 }, { users: 40, groups: 3, teams: 1 });
    const first = await client.round(GROUPS);
    // 3 groups of 13–14 members on pages of 5 units: each group repeated with the next slice
    expect(first.pages.length).toBeGreaterThan(8);
    const firstGroup = sim.dataset().groups[0]!;
    const slices = first.objects.filter((o) => o.id === firstGroup.id);
    expect(slices.length).toBeGreaterThan(2);
    for (const s of slices) expect(s.displayName).toBe(firstGroup.displayName);
    expect(slices[0]!['members@delta']).toContainEqual({
      '@odata.type': '#microsoft.graph.user',
      id: [...firstGroup.members!].sort()[0],
    });
    const replica = new Replica().apply(first.objects);
    for (const g of sim.dataset().groups)
      expect([...replica.members.get(g.id)!].sort()).toEqual([...g.members!].sort());
    expect(replica.objects.get(firstGroup.id)).not.toHaveProperty('members');

    const before = sim.dataset();
    const next = changeDataset(before, {
      addGroups: 1,
      renameGroups: 1,
      removeGroups: 1,
      addMembers: 2,
      removeMembers: 2,
    });
    // a user moved to the recycle bin leaves its group's members too
    const binned = next.users.pop()!;
    next.deletedItems = { users: [binned], groups: [] };
    sim.setDataset(next);
    const round = await client.round(first.deltaLink);
    const got = round.objects;
    const removedGroup = before.groups.at(-1)!.id;
    expect(got.find((o) => o.id === removedGroup)).toEqual({
      id: removedGroup,
      '@removed': { reason: 'deleted' },
    });
    const createdGroup = next.groups.at(-1)!;
    expect(got.find((o) => o.id === createdGroup.id)).toMatchObject({
      displayName: createdGroup.displayName,
    });
    const refs = got.flatMap((o) => (o['members@delta'] as Obj[] | undefined) ?? []);
    expect(refs).toContainEqual({
      '@odata.type': '#microsoft.graph.user',
      id: binned.id,
      '@removed': { reason: 'deleted' },
    });
    expect(refs.filter((r) => r['@removed']).length).toBeGreaterThanOrEqual(2);

    replica.apply(got);
    const fresh = new Replica().apply((await client.round(GROUPS)).objects);
    expect(replica.snapshot()).toEqual(fresh.snapshot());
    for (const g of next.groups) {
      expect([...(fresh.members.get(g.id) ?? [])].sort()).toEqual(
        g.members!.filter((m) => m !== binned.id).sort(),
      );
    }

    // without members in $select, a membership change alone is not reported
    const names = await client.round(`${GROUPS}?$select=displayName`);
    expect(names.objects.some((o) => 'members@delta' in o)).toBe(false);
    sim.setDataset(changeDataset(sim.dataset(), { addMembers: 3 }, 77));
    expect((await client.round(names.deltaLink)).objects).toEqual([]);
    // /groups never lists members
    const listed = await client.get('/v1.0/groups');
    expect((listed.body.value as Obj[]).some((g) => 'members' in g)).toBe(false);
  });

  it('reports a restore as the whole object again, and a purge after a soft delete as deleted', async () => {
    const { sim, client } = await start();
    const first = await client.round(USERS);
    sim.setDataset(changeDataset(sim.dataset(), { softDeleteUsers: 2 }));
    const soft = await client.round(first.deltaLink);
    const binned = sim.dataset().deletedItems!.users;
    expect(soft.objects).toEqual(binned.map((u) => ({ id: u.id, '@removed': { reason: 'changed' } })));
    sim.setDataset(changeDataset(sim.dataset(), { restoreUsers: 1, purgeDeletedUsers: 1 }));
    const after = byId((await client.round(soft.deltaLink)).objects);
    expect(after.get(binned[0]!.id)).toMatchObject({
      id: binned[0]!.id,
      displayName: binned[0]!.displayName,
    });
    expect(after.get(binned[1]!.id)).toEqual({ id: binned[1]!.id, '@removed': { reason: 'deleted' } });
    expect(after.size).toBe(2);

    // made and removed (binned, or gone) between two rounds: never seen, so not reported
    const token = (await client.round(USERS)).deltaLink;
    const withNew = changeDataset(sim.dataset(), { addUsers: 2 }, 501);
    sim.setDataset(withNew);
    const [made, other] = withNew.users.slice(-2);
    const without = structuredClone(withNew);
    without.users = without.users.filter((u) => u.id !== made!.id && u.id !== other!.id);
    without.deletedItems!.users.push(made!);
    sim.setDataset(without);
    expect((await client.round(token)).objects).toEqual([]);
    // a users token is no token for groups
    const crossed = await client.get(token.replace('/users/delta', '/groups/delta'));
    expect(crossed.body.error).toMatchObject({ code: 'syncStateNotFound' });
  });

  it('answers $deltatoken=latest with a deltaLink and no data; the next round has only later changes', async () => {
    const { sim, client } = await start();
    sim.setDataset(changeDataset(sim.dataset(), { renameUsers: 3 }));
    const latest = await client.get(`${USERS}?$deltaToken=latest&$select=displayName`);
    expect(latest.status).toBe(200);
    expect(latest.body.value).toEqual([]);
    expect(latest.body).not.toHaveProperty('@odata.nextLink');
    const next = structuredClone(sim.dataset());
    next.users[5]!.displayName = 'Only Me';
    next.users[5]!.jobTitle = 'Not selected';
    sim.setDataset(next);
    const round = await client.round(latest.body['@odata.deltaLink'] as string);
    expect(round.objects).toEqual([{ id: next.users[5]!.id, displayName: 'Only Me' }]);
  });

  it('filters by id only, at most 50', async () => {
    const { sim, client } = await start();
    const [a, b] = sim.dataset().users;
    const round = await client.round(
      `${USERS}?$filter=${encodeURIComponent(`id eq '${a!.id}' or id eq '${b!.id}'`)}`,
    );
    expect(ids(round.objects)).toEqual([a!.id, b!.id]);
    const next = changeDataset(sim.dataset(), { renameUsers: 5 });
    sim.setDataset(next);
    expect(ids((await client.round(round.deltaLink)).objects)).toEqual([a!.id, b!.id]);
    const many = Array.from({ length: 51 }, (_, i) => `id eq '${i}'`).join(' or ');
    for (const f of [many, "displayName eq 'x'", `id eq '${a!.id}' and id eq '${b!.id}'`]) {
      const res = await client.get(`${USERS}?$filter=${encodeURIComponent(f)}`);
      expect(res.status, f).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'Request_UnsupportedQuery' });
    }
    expect((await client.get(`${USERS}?$orderby=displayName`)).status).toBe(400);
    expect((await client.get(`${GROUPS}?$expand=members`)).status).toBe(400);
  });

  it('refuses a token older than its lifetime, or expired on demand, with 400 syncStateNotFound', async () => {
    let now = Date.UTC(2025, 5, 1);
    const { sim, client } = await start({ tokenLifetimeMs: 60_000, clock: () => now });
    const first = await client.round(USERS);
    now += 59_000;
    const fresh = await client.round(first.deltaLink);
    now += 61_000;
    const expired = await client.get(fresh.deltaLink);
    expect(expired.status).toBe(400);
    expect(expired.body.error).toMatchObject({
      code: 'syncStateNotFound',
      message: expect.any(String),
      innerError: { date: expect.any(String), 'request-id': expect.any(String) },
    });
    // a page token ages too
    const started = await client.get(USERS);
    now += 61_000;
    expect((await client.get(started.body['@odata.nextLink'] as string)).status).toBe(400);

    const again = await client.round(USERS);
    sim.expireDeltaTokens();
    expect((await client.get(again.deltaLink)).body.error).toMatchObject({ code: 'syncStateNotFound' });
    const forged = await client.get(`${USERS}?$deltatoken=${'A'.repeat(32)}`);
    expect(forged.status).toBe(400);
    expect(forged.body.error).toMatchObject({ code: 'syncStateNotFound' });
  });

  it('answers 410 Gone with a Location that starts a new first round, when switched', async () => {
    const { sim, client } = await start();
    const users = await client.round(`${USERS}?$select=displayName`);
    const groups = await client.round(GROUPS);
    sim.requireDeltaResync('users');
    const gone = await client.get(users.deltaLink);
    expect(gone.status).toBe(410);
    expect(gone.body.error).toMatchObject({ code: 'resyncRequired' });
    expect(gone.headers.location).toBe(`${sim.url}/v1.0/users/delta?$select=displayName&$deltatoken=`);
    const restart = await client.round(gone.headers.location as string);
    expect(restart.objects).toHaveLength(sim.dataset().users.length);
    expect(Object.keys(restart.objects[0]!).sort()).toEqual(['displayName', 'id']);
    // the switch fired once and killed the kind's earlier tokens; groups were not touched
    expect((await client.get(users.deltaLink)).body.error).toMatchObject({ code: 'syncStateNotFound' });
    expect((await client.round(restart.deltaLink)).objects).toEqual([]);
    expect((await client.round(groups.deltaLink)).objects).toEqual([]);
  });

  it('duplicates objects within a round on demand; merging stays the same', async () => {
    const { sim, client } = await start({ duplicateChance: 1 });
    const first = await client.round(USERS);
    expect(first.objects).toHaveLength(2 * sim.dataset().users.length);
    expect(new Set(ids(first.objects)).size).toBe(sim.dataset().users.length);
    const replica = new Replica().apply(first.objects);
    sim.setDataset(changeDataset(sim.dataset(), { renameUsers: 2, removeUsers: 1 }));
    const round = await client.round(first.deltaLink);
    expect(round.objects).toHaveLength(6);
    replica.apply(round.objects);
    sim.setDeltaOptions({ duplicateChance: 0 });
    expect(replica.snapshot()).toEqual(new Replica().apply((await client.round(USERS)).objects).snapshot());
  });

  it('holds a change back to the next round (late) or sends it again (replay), on demand', async () => {
    const { sim, client } = await start({ lateChance: 1 });
    const first = await client.round(USERS);
    expect(first.objects).toHaveLength(30); // a first round is never held back
    sim.setDataset(changeDataset(sim.dataset(), { renameUsers: 2 }));
    const late = await client.round(first.deltaLink);
    expect(late.objects).toEqual([]);
    sim.setDeltaOptions({ lateChance: 0, replayChance: 1 });
    const arrived = await client.round(late.deltaLink);
    const renamed = sim
      .dataset()
      .users.slice(0, 2)
      .map((u) => u.id);
    expect(ids(arrived.objects)).toEqual(renamed);
    sim.setDeltaOptions({ replayChance: 0 });
    const replayed = await client.round(arrived.deltaLink);
    expect(replayed.objects).toEqual(arrived.objects);
    expect((await client.round(replayed.deltaLink)).objects).toEqual([]);
  });

  it('keeps its position through an empty page fault and a retried nextLink', async () => {
    const { sim, client } = await start();
    sim.addFault({ kind: 'emptyPage', path: '/users/delta', page: 'next' });
    const round = await client.round(USERS);
    expect(round.pages.some((p) => p.length === 0)).toBe(true);
    expect(new Set(ids(round.objects)).size).toBe(30);
    expect(round.objects).toHaveLength(30);
    const page = await client.get(USERS);
    const link = page.body['@odata.nextLink'] as string;
    expect((await client.get(link)).body.value).toEqual((await client.get(link)).body.value);
  });

  it('serves delta only for users and groups', async () => {
    const { client } = await start();
    const res = await client.get('/v1.0/subscribedSkus/delta');
    expect(res.status).toBe(400);
    expect((await client.get('/v1.0/users/microsoft.graph.delta()')).status).toBe(200);
  });
});
