import { describe, expect, it } from 'vitest';
import { storedPictureOrder, syncPlan } from '../../domain/sync-plan.js';
import { validateTenant } from '../../domain/tenant.js';
import { validTenantInput } from '../support/fixtures.js';

describe('syncPlan', () => {
  const tenant = validateTenant(validTenantInput());

  it('puts Teams users last in the Teams script, so the other Teams kinds stream while Graph users page in', () => {
    const plan = syncPlan(tenant);
    expect(plan.teams.at(-1)).toBe('teams_users');
    expect(plan.teams.length).toBeGreaterThan(1);
    expect(plan.graph[0]).toBe('users');
  });

  it('keeps only the kinds asked for, Teams users still last', () => {
    const plan = syncPlan(tenant, ['teams_users', 'dial_plans', 'users']);
    expect(plan).toEqual({ graph: ['users'], teams: ['dial_plans', 'teams_users'], exchange: [] });
  });

  it('orders stored-picture reads: Graph users first, other Graph kinds, script kinds, Teams users last', () => {
    const order = ['teams_users', 'mailboxes', 'groups', 'users', 'dial_plans'].sort(
      (a, b) => storedPictureOrder(a) - storedPictureOrder(b),
    );
    expect(order).toEqual(['users', 'groups', 'mailboxes', 'dial_plans', 'teams_users']);
  });
});
