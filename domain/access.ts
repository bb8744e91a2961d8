/**
 * Who may do what through the operator API: roles (what a token may do) and scopes (which part of
 * the customer hierarchy it may see). A scope is a hierarchy place, covering that place and every
 * place under it, or `*` for the whole hierarchy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from './errors.js';
import { HIERARCHY } from './tenant.js';

/** `viewer` reads; `operator` also syncs, cancels, approves deletes, tests connections; `admin` also changes configuration and tokens. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The scope of a token that sees the whole hierarchy. */
export const ALL_SCOPES = '*';

/** Who is calling: what the API knows of a request once its token is checked. */
export interface Caller {
  /** The token's id (the rate limit's key). */
  id: string;
  /** The token's name: the actor recorded on runs and approvals. */
  name: string;
  role: Role;
  scope: string;
}

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Whether a scope covers a hierarchy place: `a.b` covers `a.b` and `a.b.c`, not `a.bc` nor `a`. */
export function scopeCovers(scope: string, hierarchy: string): boolean {
  return scope === ALL_SCOPES || hierarchy === scope || hierarchy.startsWith(`${scope}.`);
}

/**
 * Tokens are `m365s_` and 43 base64url characters (32 random bytes): the prefix lets secret
 * scanners and people recognise one.
 */
export const TOKEN_PREFIX = 'm365s_';

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * How a token is stored. A plain SHA-256 is enough: the token carries 256 random bits, so no
 * dictionary or brute force can invert the hash (slow password hashes exist for low-entropy
 * passwords), and a fast hash lets every request be checked with one indexed lookup.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Names the API gives callers that hold no stored token; no stored token may take them. */
export const RESERVED_TOKEN_NAMES = ['bootstrap', 'dev-no-auth'];

/** Checks a new token's name, role and scope; every problem named. */
export function parseTokenRequest(input: { name?: unknown; role?: unknown; scope?: unknown }): {
  name: string;
  role: Role;
  scope: string;
} {
  const problems: { field: string; message: string }[] = [];
  const { name, role, scope } = input;
  if (typeof name !== 'string' || !TOKEN_NAME.test(name))
    problems.push({
      field: 'name',
      message: 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
    });
  else if (RESERVED_TOKEN_NAMES.includes(name.toLowerCase()))
    problems.push({ field: 'name', message: `"${name}" is reserved; choose another name` });
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role))
    problems.push({ field: 'role', message: `must be one of ${ROLES.join(', ')}` });
  if (typeof scope !== 'string' || (scope !== ALL_SCOPES && !HIERARCHY.test(scope)))
    problems.push({
      field: 'scope',
      message: `must be a hierarchy place (e.g. provider.resellerA) or ${ALL_SCOPES} for all of them`,
    });
  if (problems.length > 0) throw new ValidationError('Token', problems);
  return { name: name as string, role: role as Role, scope: scope as string };
}
