import { describe, expect, it } from 'vitest';
import { generateDataset } from '../../simulators/dataset.js';
import { licenceView, skuIndex, withLicenceView, type SubscribedSku } from '../../domain/licence-view.js';

const E5 = '06ebc4ee-1bb5-47dd-8120-11324bc54e06';
const PHONE = '440eaaa8-b3e0-484b-a8be-62870b9ba70a';
const PLAN = {
  teams: '57ff2da0-773e-42df-b2af-ffb7a2317929',
  mcoev: '4828c8ec-dc2e-4779-b502-87ac9ce28ab7',
  exchange: 'efb87545-963c-4e0d-99df-69c6916d9eb0',
  tenantLevel: 'aaaaaaaa-0000-0000-0000-000000000001',
};

const skus: SubscribedSku[] = [
  {
    skuId: E5,
    skuPartNumber: 'SPE_E5',
    servicePlans: [
      { servicePlanId: PLAN.teams, servicePlanName: 'TEAMS1', appliesTo: 'User' },
      { servicePlanId: PLAN.mcoev, servicePlanName: 'MCOEV', appliesTo: 'User' },
      { servicePlanId: PLAN.exchange, servicePlanName: 'EXCHANGE_S_ENTERPRISE', appliesTo: 'User' },
      { servicePlanId: PLAN.tenantLevel, servicePlanName: 'TENANT_FEATURE', appliesTo: 'Company' },
    ],
  },
  {
    skuId: PHONE,
    skuPartNumber: 'MCOEV',
    servicePlans: [{ servicePlanId: PLAN.mcoev, servicePlanName: 'MCOEV', appliesTo: 'User' }],
  },
];

describe('licenceView', () => {
  it('resolves SKU part numbers and enabled plans, sorted and unique', () => {
    expect(licenceView([{ skuId: PHONE }, { skuId: E5, disabledPlans: [] }], skus)).toEqual({
      skuPartNumbers: ['MCOEV', 'SPE_E5'],
      servicePlanNames: ['EXCHANGE_S_ENTERPRISE', 'MCOEV', 'TEAMS1'],
    });
  });

  it('leaves out plans disabled for the user, and company-level plans', () => {
    const view = licenceView([{ skuId: E5, disabledPlans: [PLAN.exchange.toUpperCase(), PLAN.mcoev] }], skus);
    expect(view).toEqual({ skuPartNumbers: ['SPE_E5'], servicePlanNames: ['TEAMS1'] });
  });

  it('keeps a plan one licence disables when another licence enables it', () => {
    const view = licenceView([{ skuId: E5, disabledPlans: [PLAN.mcoev] }, { skuId: PHONE }], skus);
    expect(view.servicePlanNames).toContain('MCOEV');
  });

  it('reports a licence whose SKU the tenant does not list as unknown:<skuId>', () => {
    const stray = 'DEADBEEF-0000-4000-8000-000000000000';
    expect(licenceView([{ skuId: stray }, { skuId: E5.toUpperCase() }], skus)).toEqual({
      skuPartNumbers: ['SPE_E5', `unknown:${stray.toLowerCase()}`],
      servicePlanNames: ['EXCHANGE_S_ENTERPRISE', 'MCOEV', 'TEAMS1'],
    });
  });

  it('gives an empty view for no licences, or licences not selected', () => {
    expect(licenceView([], skus)).toEqual({ skuPartNumbers: [], servicePlanNames: [] });
    expect(licenceView(undefined, skus)).toEqual({ skuPartNumbers: [], servicePlanNames: [] });
    expect(licenceView(null, skus)).toEqual({ skuPartNumbers: [], servicePlanNames: [] });
  });

  it('tolerates SKUs without plans and licences without disabledPlans', () => {
    const bare: SubscribedSku[] = [{ skuId: E5, skuPartNumber: 'SPE_E5', servicePlans: null }];
    expect(licenceView([{ skuId: E5, disabledPlans: null }], bare)).toEqual({
      skuPartNumbers: ['SPE_E5'],
      servicePlanNames: [],
    });
  });

  it('accepts a prebuilt index and adds the view to a user without changing it', () => {
    const user = { id: 'u1', assignedLicenses: [{ skuId: PHONE, disabledPlans: [] }] };
    const stored = withLicenceView(user, skuIndex(skus));
    expect(stored).toEqual({ ...user, skuPartNumbers: ['MCOEV'], servicePlanNames: ['MCOEV'] });
    expect(user).not.toHaveProperty('skuPartNumbers');
  });
});

describe('licence view on the simulated data set', () => {
  const ds = generateDataset({ seed: 7 });
  const index = skuIndex(ds.skus);

  it('answers "who has MCOEV" exactly as the data set assigns it', () => {
    const voiceSkus = new Set(
      ds.skus.filter((s) => s.servicePlans.some((p) => p.servicePlanName === 'MCOEV')).map((s) => s.skuId),
    );
    const expected = ds.users
      .filter((u) => u.assignedLicenses.some((l) => voiceSkus.has(l.skuId)))
      .map((u) => u.id)
      .sort();
    const viaView = ds.users
      .filter((u) => withLicenceView(u, index).servicePlanNames.includes('MCOEV'))
      .map((u) => u.id)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(ds.users.length);
    expect(viaView).toEqual(expected);
  });

  it('resolves every assigned licence to a part number', () => {
    for (const user of ds.users) {
      const view = licenceView(user.assignedLicenses, index);
      expect(view.skuPartNumbers).toHaveLength(new Set(user.assignedLicenses.map((l) => l.skuId)).size);
      expect(view.skuPartNumbers.some((p) => p.startsWith('unknown:'))).toBe(false);
    }
  });
});
