/**
 * The licence view of a Graph user: the SKU part numbers of its assigned licences (`SPE_E5`, `MCOEV`)
 * and the service plans those licences enable for it (`MCOEV`, `TEAMS1`, `EXCHANGE_S_ENTERPRISE`),
 * resolved from the tenant's subscribed SKUs and stored with the user, so an operator can ask MongoDB
 * "who has MCOEV" (`{ skuPartNumbers: 'MCOEV' }` or `{ servicePlanNames: 'MCOEV' }`) without joining.
 *
 * Graph gives a user `assignedLicenses: [{ skuId, disabledPlans: [servicePlanId] }]` and the tenant
 * `subscribedSkus: [{ skuId, skuPartNumber, servicePlans: [{ servicePlanId, servicePlanName, appliesTo }] }]`
 * (Graph user and subscribedSku resources; research notes teams.md §4).
 */

import { withFields } from './with-fields.js';

export interface AssignedLicence {
  skuId: string;
  /** Service plan ids of the SKU switched off for this user. */
  disabledPlans?: readonly string[] | null;
}

export interface ServicePlanInfo {
  servicePlanId: string;
  servicePlanName: string;
  /** `User` or `Company`: a company-level plan is the tenant's, not something a user "has". */
  appliesTo?: string;
  provisioningStatus?: string;
}

export interface SubscribedSku {
  skuId: string;
  skuPartNumber: string;
  servicePlans?: readonly ServicePlanInfo[] | null;
}

/** What is stored with the user document. */
export interface LicenceView {
  /** Sorted, unique. A licence whose SKU the tenant no longer lists shows as `unknown:<skuId>`. */
  skuPartNumbers: string[];
  /** Sorted, unique names of the service plans the user's licences enable for it. */
  servicePlanNames: string[];
}

/** The tenant's SKUs by lower-cased skuId, built once per run and reused for every user. */
export type SkuIndex = ReadonlyMap<string, SubscribedSku>;

export function skuIndex(skus: Iterable<SubscribedSku>): SkuIndex {
  const index = new Map<string, SubscribedSku>();
  for (const sku of skus) index.set(sku.skuId.toLowerCase(), sku);
  return index;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The licence view of one user. `assignedLicenses` missing or null (the property was not selected)
 * gives an empty view: the Graph users step must `$select` assignedLicenses for the view to mean
 * anything.
 */
export function licenceView(
  assignedLicenses: readonly AssignedLicence[] | null | undefined,
  skus: SkuIndex | Iterable<SubscribedSku>,
): LicenceView {
  const index = skus instanceof Map ? (skus as SkuIndex) : skuIndex(skus as Iterable<SubscribedSku>);
  const parts = new Set<string>();
  const plans = new Set<string>();
  for (const licence of assignedLicenses ?? []) {
    if (!licence || typeof licence.skuId !== 'string' || licence.skuId === '') continue;
    const sku = index.get(licence.skuId.toLowerCase());
    if (!sku) {
      parts.add(`unknown:${licence.skuId.toLowerCase()}`);
      continue;
    }
    parts.add(sku.skuPartNumber);
    const disabled = new Set((licence.disabledPlans ?? []).map((id) => id.toLowerCase()));
    for (const plan of sku.servicePlans ?? []) {
      if (plan.appliesTo !== undefined && plan.appliesTo.toLowerCase() === 'company') continue;
      if (disabled.has(plan.servicePlanId.toLowerCase())) continue;
      plans.add(plan.servicePlanName);
    }
  }
  return {
    skuPartNumbers: [...parts].sort(byCodeUnit),
    servicePlanNames: [...plans].sort(byCodeUnit),
  };
}

/** A Graph user document with its licence view added (the user is not changed). */
export function withLicenceView<U extends { assignedLicenses?: readonly AssignedLicence[] | null }>(
  user: U,
  skus: SkuIndex,
): U & LicenceView {
  return withFields(user, licenceView(user.assignedLicenses, skus));
}
