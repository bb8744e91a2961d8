import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, parseTokenRequest, roleAllows, scopeCovers } from '../../domain/access.js';
import { ValidationError } from '../../domain/errors.js';

describe('scopes and roles', () => {
  it('a scope covers its place and the places under it, nothing beside or above', () => {
    expect(scopeCovers('provider.a', 'provider.a')).toBe(true);
    expect(scopeCovers('provider.a', 'provider.a.x.y')).toBe(true);
    expect(scopeCovers('provider.a', 'provider.ab')).toBe(false);
    expect(scopeCovers('provider.a', 'provider')).toBe(false);
    expect(scopeCovers('provider.a', 'provider.b.a')).toBe(false);
    expect(scopeCovers('*', 'anything.at.all')).toBe(true);
  });

  it('roles are ordered viewer < operator < admin', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'operator')).toBe(false);
  });
});

describe('tokens', () => {
  it('are 32 random bytes behind a recognisable prefix, stored as SHA-256', () => {
    const a = generateToken();
    expect(a).toMatch(/^m365s_[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(a);
    expect(hashToken(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(a)).not.toContain(a.slice(6));
  });

  it('a token request names every problem, and reserved names are refused', () => {
    let error: unknown;
    try {
      parseTokenRequest({ name: '-x\n', role: 'root', scope: 'a..b' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems.map((p) => p.field)).toEqual(['name', 'role', 'scope']);
    expect(() => parseTokenRequest({ name: 'Bootstrap', role: 'admin', scope: '*' })).toThrow(/reserved/);
    expect(parseTokenRequest({ name: 'ops@portal', role: 'viewer', scope: 'provider.a' })).toEqual({
      name: 'ops@portal',
      role: 'viewer',
      scope: 'provider.a',
    });
  });
});
