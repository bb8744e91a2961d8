import { describe, expect, it } from 'vitest';
import { parseRetryAfter, stripODataAnnotations } from '../../../connectors/graph/odata.js';
import { collectionRequest } from '../../../connectors/graph/kinds.js';
import { validateTenant } from '../../../domain/tenant.js';
import { validTenantInput } from '../../support/fixtures.js';

describe('OData helpers', () => {
  it('strips annotations at every depth and leaves data alone', () => {
    const item = {
      '@odata.type': '#microsoft.graph.group',
      id: 'g1',
      'displayName@odata.type': '#String',
      'members@delta': [{ id: 'u1' }],
      owners: [{ '@odata.type': '#microsoft.graph.user', id: 'u2', nested: { '@odata.id': 'x', keep: 1 } }],
      mail: 'a@b.example', // an '@' in a value is data
    };
    expect(stripODataAnnotations(item)).toEqual({
      id: 'g1',
      owners: [{ id: 'u2', nested: { keep: 1 } }],
      mail: 'a@b.example',
    });
  });

  it('reads Retry-After as seconds or an HTTP date, and nothing from an empty or bad value', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(['3'], now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('sends $top from the tenant page sizes (blank = 999) and no $top to subscribedSkus', () => {
    const blank = validateTenant(validTenantInput());
    expect(collectionRequest('users', blank).pathAndQuery).toMatch(/^\/users\?\$top=999&\$select=id,/);
    const set = validateTenant(
      validTenantInput({ 'Microsoft 365': { msol_user_api_page_size: 7, groups_api_page_size: 3 } }),
    );
    expect(collectionRequest('users', set).top).toBe(7);
    expect(collectionRequest('groups', set).top).toBe(3);
    expect(collectionRequest('teams', set).pathAndQuery).toContain(
      "$filter=resourceProvisioningOptions%2FAny(x%3Ax%20eq%20'Team')",
    );
    expect(collectionRequest('licences', set).pathAndQuery).not.toContain('$top');
  });
});
