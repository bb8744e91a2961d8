import { describe, expect, it } from 'vitest';
import { validateTenant } from '../../domain/tenant.js';
import { validTenantInput } from '../support/fixtures.js';

describe('validateTenant (smoke)', () => {
  it('accepts a valid tenant and applies defaults', () => {
    const t = validateTenant(validTenantInput());
    expect(t['Microsoft 365'].cloud).toBe('global');
    expect(t['Microsoft Teams'].authentication).toBe('service_account');
  });
});
