/**
 * The pure rules of webhooks: the signature (against a vector computed with openssl), what a
 * subscription may say, which runs it hears of, and what its body holds.
 */
import { describe, expect, it } from 'vitest';
import { parseAllowEntry } from '../../domain/destinations.js';
import { verifyWebhookSignature, webhookSignature } from '../../domain/webhook-signature.js';
import {
  parseWebhookRequest,
  runCompletedBody,
  webhookDestinationProblem,
  webhookWants,
  type RunOutcome,
} from '../../domain/webhooks.js';

const SECRET = 'whsec_test-secret-0123456789abcdefghijklmnop';
const BODY = '{"event":"run.completed"}';

describe('webhook signature', () => {
  it('is HMAC-SHA256 of "<timestamp>.<body>" in hex (as openssl dgst -sha256 -hmac computes it)', () => {
    expect(webhookSignature(SECRET, 1_700_000_000, BODY)).toBe(
      'sha256=0ba6099affe07fbc8e5cc95332431091673176911fa71ba1321df5f646dcd0e9',
    );
    expect(webhookSignature(SECRET, 1_700_000_000, Buffer.from(BODY))).toBe(
      webhookSignature(SECRET, 1_700_000_000, BODY),
    );
  });

  it('verifies within the tolerance only, and refuses malformed headers', () => {
    const signature = webhookSignature(SECRET, 1_700_000_000, BODY);
    const check = {
      secret: SECRET,
      body: BODY,
      timestamp: '1700000000',
      signature,
      nowSeconds: 1_700_000_100,
    };
    expect(verifyWebhookSignature(check)).toBe(true);
    expect(verifyWebhookSignature({ ...check, nowSeconds: 1_700_000_301 })).toBe(false);
    expect(verifyWebhookSignature({ ...check, nowSeconds: 1_699_999_699 })).toBe(false);
    for (const timestamp of [undefined, '', '17e8', '-1', '1700000000.5'])
      expect(verifyWebhookSignature({ ...check, timestamp })).toBe(false);
    for (const bad of [undefined, '', signature.toUpperCase(), signature.slice(0, -1), `${signature}0`])
      expect(verifyWebhookSignature({ ...check, signature: bad })).toBe(false);
  });
});

describe('webhook subscription requests', () => {
  it('defaults the scope to the asker, every status, and keeps a given secret', () => {
    expect(
      parseWebhookRequest({ name: 'portal', url: 'https://portal.example/h?x=1' }, 'provider.a'),
    ).toEqual({
      name: 'portal',
      url: 'https://portal.example/h?x=1',
      scope: 'provider.a',
      statuses: ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled'],
    });
    expect(
      parseWebhookRequest({
        name: 'p',
        url: 'http://10.0.0.1/',
        statuses: ['failed', 'failed'],
        secret: SECRET,
      }),
    ).toMatchObject({ scope: '*', statuses: ['failed'], secret: SECRET });
  });

  it('names every problem, never echoing a secret', () => {
    const given = 'not a secret at all';
    try {
      parseWebhookRequest({ url: 'https://u:p@x.example/#f', scope: 'a..b', statuses: [], secret: given });
      expect.unreachable();
    } catch (error) {
      const e = error as { problems: { field: string }[]; message: string };
      expect(e.problems.map((p) => p.field)).toEqual(['name', 'url', 'scope', 'statuses', 'secret']);
      expect(e.message).not.toContain(given);
    }
    expect(() => parseWebhookRequest({ name: 'p', url: 'https://x.example/#frag' })).toThrow(/fragment/);
    expect(() => parseWebhookRequest({ name: 'p', url: 'file:///etc/passwd' })).toThrow(
      /https:\/\/ or http:/,
    );
    expect(() => parseWebhookRequest([])).toThrow(/JSON object/);
  });

  it('needs a webhook entry for the receiver: its name, address or range, with its port if the entry has one', () => {
    const entries = ['portal.example', '10.1.0.0/16', '127.0.0.1:8443', '[::1]'].map((e) =>
      parseAllowEntry('webhook', e),
    );
    const powershellOnly = [parseAllowEntry('powershell', 'ps.example')];
    for (const url of [
      'https://portal.example/x',
      'http://10.1.2.3:81/',
      'https://127.0.0.1:8443/',
      'http://[::1]:9/',
    ])
      expect(webhookDestinationProblem(url, entries), url).toBeUndefined();
    expect(webhookDestinationProblem('https://127.0.0.1/', entries)).toBe(
      '127.0.0.1:443 is not an allowed destination; an administrator allows it with: m365sync destinations allow webhook 127.0.0.1',
    );
    expect(webhookDestinationProblem('http://[fd00::1]/', entries)).toContain('allow webhook [fd00::1]');
    expect(webhookDestinationProblem('https://ps.example/', powershellOnly)).toContain(
      'not an allowed destination',
    );
  });
});

const RUN: RunOutcome = {
  id: 'r1',
  tenantId: 't1',
  hierarchy: 'provider.a.cust',
  status: 'partial',
  trigger: 'schedule',
  requestedBy: 'scheduler',
  attempt: 2,
  startedAt: new Date('2026-01-01T02:00:00Z'),
  endedAt: new Date('2026-01-01T02:01:30Z'),
  error: { code: 'POWERSHELL_ERROR' },
  kinds: {
    users: { status: 'succeeded', created: 1, updated: 2, unchanged: 3, deleted: 4 },
    policies: {
      status: 'failed',
      created: 0,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      error: { code: 'POWERSHELL_ERROR' },
    },
    groups: {
      status: 'needs_review',
      created: 5,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      held: { wouldDelete: 40 },
    },
  },
};

describe('which runs a subscription hears of, and what it is told', () => {
  const since = new Date('2026-01-01T00:00:00Z');
  it('its scope, its statuses, and runs ended after it was made', () => {
    expect(webhookWants({ scope: 'provider.a', statuses: ['partial'], createdAt: since }, RUN)).toBe(true);
    expect(webhookWants({ scope: '*', statuses: ['partial'], createdAt: since }, RUN)).toBe(true);
    expect(webhookWants({ scope: 'provider.ab', statuses: ['partial'], createdAt: since }, RUN)).toBe(false);
    expect(webhookWants({ scope: '*', statuses: ['failed'], createdAt: since }, RUN)).toBe(false);
    expect(webhookWants({ scope: '*', statuses: ['partial'], createdAt: new Date('2026-01-02') }, RUN)).toBe(
      false,
    );
  });

  it('counts, codes and times; no error text', () => {
    const body = runCompletedBody(
      { ...RUN, error: { code: 'POWERSHELL_ERROR', message: 'ps1.corp' } as never },
      'Contoso',
      'd1',
    );
    expect(body).toEqual({
      event: 'run.completed',
      deliveryId: 'd1',
      run: {
        id: 'r1',
        status: 'partial',
        trigger: 'schedule',
        requestedBy: 'scheduler',
        attempt: 2,
        errorCode: 'POWERSHELL_ERROR',
        queuedAt: null,
        startedAt: '2026-01-01T02:00:00.000Z',
        endedAt: '2026-01-01T02:01:30.000Z',
        durationSeconds: 90,
        counts: { created: 6, updated: 2, unchanged: 3, deleted: 4 },
        kinds: {
          users: { status: 'succeeded', created: 1, updated: 2, unchanged: 3, deleted: 4 },
          policies: {
            status: 'failed',
            created: 0,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            errorCode: 'POWERSHELL_ERROR',
          },
          groups: {
            status: 'needs_review',
            created: 5,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            heldDeletes: 40,
          },
        },
        changes: { created: 0, updated: 0, deleted: 0, baseline: 0, after: null, last: null },
      },
      tenant: { id: 't1', name: 'Contoso', hierarchy: 'provider.a.cust' },
    });
    expect(JSON.stringify(body)).not.toContain('ps1.corp');
  });

  it('carries the run’s change counts and the cursor range of its changes', () => {
    const changes = { created: 1, updated: 2, deleted: 4, baseline: 0, after: 'c1.MTA', last: 'c1.MTc' };
    expect(runCompletedBody(RUN, 'Contoso', 'd2', changes).run.changes).toEqual(changes);
  });
});
