/**
 * The sync plan of a tenant: which kinds a run pulls, grouped by where they come from. The Graph
 * steps, the Teams script and the Exchange script are independent of each other and run at once.
 */
import { ENTITY_KINDS, type EntityKindName, type EntitySource } from './entity-kinds.js';
import type { TenantConfig } from './tenant.js';
import { DELTA_RUN_KINDS } from './delta.js';

export type SyncPlan = Record<EntitySource, EntityKindName[]>;

/**
 * The kinds asked for (all by default), less those the tenant cannot give: Exchange kinds only when
 * `Microsoft Exchange.enable_exchange` is on.
 */
export function syncPlan(tenant: TenantConfig, kinds?: readonly string[]): SyncPlan {
  const wanted = kinds ? new Set(kinds) : undefined;
  const plan: SyncPlan = { graph: [], teams: [], exchange: [] };
  for (const k of ENTITY_KINDS) {
    if (wanted && !wanted.has(k.kind)) continue;
    if (k.source === 'exchange' && !tenant['Microsoft Exchange'].enable_exchange) continue;
    plan[k.source].push(k.kind);
  }
  // Teams users last in the Teams script: each of their pages waits until the run's Graph users are
  // in (Teams matching), and the script's output blocks meanwhile; streamed last, the other Teams kinds
  // arrive while the Graph users page in, instead of after them.
  plan.teams.sort((a, b) => Number(a === 'teams_users') - Number(b === 'teams_users'));
  return plan;
}

/**
 * The order in which a run needs its kinds' stored pictures (0 first; read one at a time on
 * FerretDB, connectors/mongo/write-limits.ts): Graph users first, since the run's Teams users wait for
 * them (Teams matching); then the other Graph kinds; then the script kinds; Teams users last, as they
 * come last in their script (above).
 */
export function storedPictureOrder(kind: string): number {
  if (kind === 'users') return 0;
  if (kind === 'teams_users') return 3;
  return ENTITY_KINDS.find((k) => k.kind === kind)?.source === 'graph' ? 1 : 2;
}

export function planKinds(plan: SyncPlan): EntityKindName[] {
  return [...plan.graph, ...plan.teams, ...plan.exchange];
}

/**
 * A delta run's plan: the Graph kinds a delta run covers (domain/delta.ts DELTA_RUN_KINDS), nothing
 * from the PowerShell scripts, which have no delta.
 */
export function deltaPlan(plan: SyncPlan): SyncPlan {
  const covered = new Set<string>(DELTA_RUN_KINDS);
  return { graph: plan.graph.filter((k) => covered.has(k)), teams: [], exchange: [] };
}
