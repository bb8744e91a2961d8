import { describe, expect, it } from 'vitest';
import { SyncError } from '../../domain/errors.js';
import { LEASE_LAPSING } from '../../workers/lease-keeper.js';
import { runErrorFor, type RunStop } from '../../workers/run-error.js';

const running: RunStop = { leaseLost: false, cancelledBy: undefined, abortReason: undefined };
const thrown = new SyncError('TRANSIENT', 'Graph answered 503', { retryable: true });

describe('the error a run attempt records', () => {
  it('is the thrown error when nothing stopped the run', () => {
    expect(runErrorFor(running, thrown)).toEqual({ code: 'TRANSIENT', message: 'Graph answered 503' });
  });

  it('says why the run was stopped, not what its last refused write threw', () => {
    expect(runErrorFor({ ...running, abortReason: LEASE_LAPSING }, thrown).code).toBe('LEASE_LAPSING');
    const cancelled = runErrorFor({ ...running, cancelledBy: 'ops@example.test', abortReason: 'x' }, thrown);
    expect(cancelled).toMatchObject({
      code: 'CANCELLED',
      message: expect.stringContaining('ops@example.test'),
    });
  });

  it('puts a lost lease first: a newer run owns the tenant whatever else happened', () => {
    const stop = { leaseLost: true, cancelledBy: 'ops@example.test', abortReason: LEASE_LAPSING };
    expect(runErrorFor(stop, thrown).code).toBe('LEASE_LOST');
  });
});
