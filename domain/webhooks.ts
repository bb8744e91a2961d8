/**
 * Webhook subscriptions: an operator's portal is told when a sync run ends, instead of polling. The
 * rules here are pure: what a subscription may say (a receiver URL, a scope in the customer
 * hierarchy, the run statuses it wants), which runs it hears of, and the JSON body it is sent. The
 * body is built from the run record and the tenant's name only: counts, codes and times, never a
 * secret nor an error's free text (which may name hosts of the provider's network).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { ALL_SCOPES, scopeCovers } from './access.js';
import { isAllowed, type AllowEntry } from './destinations.js';
import { ValidationError, type FieldProblem } from './errors.js';
import { HIERARCHY } from './tenant.js';
import { NO_RUN_CHANGES, type RunChanges } from './changes.js';

/** The run statuses a webhook can announce: every end of a run but `merged` (another run does its work). */
export const WEBHOOK_STATUSES = ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** The one event there is today; receivers should ignore events they do not know. */
export const RUN_COMPLETED_EVENT = 'run.completed';

/**
 * Generated secrets are `whsec_` and 43 base64url characters (32 random bytes); a given one must be
 * at least as long as a guessable minimum, and printable (it goes into an HMAC, never a header).
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const WEBHOOK_SECRET_MIN_LENGTH = 32;
const SECRET_TEXT = /^[\x21-\x7e]{32,256}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const MAX_URL_LENGTH = 2048;
const MAX_DESCRIPTION_LENGTH = 255;

export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A subscription as it is asked for (the API's body, the CLI's flags), checked. */
export interface WebhookRequest {
  name: string;
  url: string;
  /** A hierarchy place (that place and every place under it) or `*`. */
  scope: string;
  /** The statuses it is told of; all of them when not given. */
  statuses: WebhookStatus[];
  description?: string;
  /** Given by the operator; otherwise one is generated. */
  secret?: string;
}

/** Why a receiver URL is refused, or undefined: http(s), no user or password, no fragment. */
export function webhookUrlProblem(text: string): string | undefined {
  if (text.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL like https://portal.example.net/m365sync/events';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must start with https:// or http://';
  if (url.username || url.password)
    return 'must not hold a user or password: the receiver checks the signature instead';
  if (text.includes('#')) return 'must not have a fragment ("#")';
  return undefined;
}

/**
 * Checks a subscription request; every problem named by its field. `defaultScope` is the scope of
 * whoever asks (a scoped admin's subscriptions stay within its part of the hierarchy).
 */
export function parseWebhookRequest(input: unknown, defaultScope: string = ALL_SCOPES): WebhookRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ValidationError('Webhook', [
      { field: 'body', message: 'must be a JSON object { name, url, scope?, statuses?, secret? }' },
    ]);
  const known = ['name', 'url', 'scope', 'statuses', 'description', 'secret'];
  const problems: FieldProblem[] = Object.keys(input)
    .filter((key) => !known.includes(key))
    .map((field) => ({ field, message: `is not a field of a webhook (${known.join(', ')})` }));
  const { name, url, scope = defaultScope, statuses, description, secret } = input as Record<string, unknown>;
  if (typeof name !== 'string' || !NAME.test(name))
    problems.push({
      field: 'name',
      message: 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
    });
  const urlProblem = typeof url === 'string' ? webhookUrlProblem(url) : 'must be a URL (text)';
  if (urlProblem) problems.push({ field: 'url', message: urlProblem });
  if (typeof scope !== 'string' || (scope !== ALL_SCOPES && !HIERARCHY.test(scope)))
    problems.push({
      field: 'scope',
      message: `must be a hierarchy place (e.g. provider.resellerA) or ${ALL_SCOPES} for every tenant`,
    });
  const statusList = statuses === undefined ? [...WEBHOOK_STATUSES] : statuses;
  if (
    !Array.isArray(statusList) ||
    statusList.length === 0 ||
    statusList.some((s) => !(WEBHOOK_STATUSES as readonly unknown[]).includes(s))
  )
    problems.push({
      field: 'statuses',
      message: `must be a non-empty list of ${WEBHOOK_STATUSES.join(', ')}`,
    });
  if (
    description !== undefined &&
    (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)
  )
    problems.push({
      field: 'description',
      message: `must be text of at most ${MAX_DESCRIPTION_LENGTH} characters`,
    });
  // Never echo the given secret: say what is wrong with it, not what it is.
  if (secret !== undefined && (typeof secret !== 'string' || !SECRET_TEXT.test(secret)))
    problems.push({
      field: 'secret',
      message: `must be ${WEBHOOK_SECRET_MIN_LENGTH} to 256 printable characters without spaces (or leave it out: one is generated)`,
    });
  if (problems.length > 0) throw new ValidationError('Webhook', problems);
  return {
    name: name as string,
    url: url as string,
    scope: scope as string,
    statuses: [...new Set(statusList as WebhookStatus[])],
    ...(description ? { description: description as string } : {}),
    ...(secret !== undefined ? { secret: secret as string } : {}),
  };
}

/** The receiver's host and port, for the allow-list (`webhook` entries). */
export function webhookDestination(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  return { host: parsed.hostname, port };
}

/**
 * Why the allow-list refuses a receiver, or undefined: like a PowerShell proxy, a receiver needs a
 * `webhook` entry naming its host (or its address or range), with or without its port.
 */
export function webhookDestinationProblem(url: string, entries: readonly AllowEntry[]): string | undefined {
  const { host, port } = webhookDestination(url);
  if (isAllowed('webhook', host, port, entries)) return undefined;
  const bare = host.replace(/^\[|\]$/g, '');
  const shown = isIP(bare) === 6 ? `[${bare}]` : bare;
  return `${shown}:${port} is not an allowed destination; an administrator allows it with: m365sync destinations allow webhook ${shown}`;
}

/** What a subscription says about which runs it hears of. */
export interface WebhookFilter {
  scope: string;
  statuses: readonly string[];
  createdAt: Date;
}

/** The fields of a run record a webhook body is made from. */
export interface RunOutcome {
  id: string;
  tenantId: string;
  hierarchy: string;
  status: string;
  trigger: string;
  requestedBy: string;
  attempt: number;
  kindsRequested?: string[];
  queuedAt?: Date;
  startedAt?: Date;
  endedAt?: Date;
  error?: { code: string };
  kinds?: Record<
    string,
    {
      status: string;
      created: number;
      updated: number;
      unchanged: number;
      deleted: number;
      error?: { code: string };
      held?: { wouldDelete: number };
    }
  >;
}

/**
 * Does a subscription hear of this run? Its tenant within the scope, a status it asked for, and an
 * end after the subscription was made (no history is replayed to a new subscription).
 */
export function webhookWants(filter: WebhookFilter, run: RunOutcome): boolean {
  return (
    scopeCovers(filter.scope, run.hierarchy) &&
    filter.statuses.includes(run.status) &&
    (run.endedAt?.getTime() ?? 0) >= filter.createdAt.getTime()
  );
}

const COUNTS = ['created', 'updated', 'unchanged', 'deleted'] as const;

/**
 * The JSON body of a `run.completed` delivery: what a portal needs to show the outcome, nothing more.
 * `changes`: what the run recorded in the change feed (counts per operation, and the cursor to read its
 * changes from and that of its last one: `GET /tenants/{id}/changes?after=…`).
 */
export function runCompletedBody(
  run: RunOutcome,
  tenantName: string | undefined,
  deliveryId: string,
  changes: RunChanges = NO_RUN_CHANGES,
) {
  const totals = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  const kinds: Record<string, Record<string, unknown>> = {};
  for (const [kind, result] of Object.entries(run.kinds ?? {})) {
    for (const count of COUNTS) totals[count] += result[count] ?? 0;
    kinds[kind] = {
      status: result.status,
      created: result.created,
      updated: result.updated,
      unchanged: result.unchanged,
      deleted: result.deleted,
      ...(result.error ? { errorCode: result.error.code } : {}),
      ...(result.held ? { heldDeletes: result.held.wouldDelete } : {}),
    };
  }
  const seconds =
    run.startedAt && run.endedAt ? (run.endedAt.getTime() - run.startedAt.getTime()) / 1000 : undefined;
  return {
    event: RUN_COMPLETED_EVENT,
    deliveryId,
    run: {
      id: run.id,
      status: run.status,
      trigger: run.trigger,
      requestedBy: run.requestedBy,
      attempt: run.attempt,
      ...(run.kindsRequested ? { kindsRequested: run.kindsRequested } : {}),
      errorCode: run.error?.code ?? null,
      queuedAt: run.queuedAt?.toISOString() ?? null,
      startedAt: run.startedAt?.toISOString() ?? null,
      endedAt: run.endedAt?.toISOString() ?? null,
      durationSeconds: seconds ?? null,
      counts: totals,
      kinds,
      changes,
    },
    tenant: { id: run.tenantId, name: tenantName ?? null, hierarchy: run.hierarchy },
  };
}
export type RunCompletedBody = ReturnType<typeof runCompletedBody>;
