/**
 * Operator actions that change a tenant's imported objects outside a sync take the tenant's lease
 * first, so they never race a running sync (a sync that starts afterwards carries a greater fence
 * token), and give it back when done.
 */
import { randomBytes } from 'node:crypto';
import type { Lease, LeaseStore } from '../connectors/mongo/index.js';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { SyncError } from '../domain/errors.js';

/** How long an operator action's lease lasts without renewal (the actions are short). */
export const ACTION_LEASE_TTL_MS = 120_000;

export async function underLease<T>(
  leases: LeaseStore,
  tenantId: string,
  action: string,
  work: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await leases.acquire(
    tenantId,
    `${action}:${randomBytes(3).toString('hex')}`,
    ACTION_LEASE_TTL_MS,
  );
  if (!lease) {
    throw new SyncError(
      'CONFLICT',
      `A sync of tenant ${tenantId} is running; ${action} changes its data, so it waits: try again when the run has ended (m365sync runs list --tenant ${tenantId}).`,
    );
  }
  try {
    return await work(lease);
  } finally {
    await leases
      .release(lease)
      .catch(ignoreBecause('an unreleased lease lapses by itself (ACTION_LEASE_TTL_MS)'));
  }
}
