/**
 * Errors carry a stable `code` (for programs, dashboards and tests) and a message written for the
 * operator: what went wrong and what to do. Messages never contain a secret.
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'CONFIGURATION'
  | 'ENCRYPTION_KEY'
  | 'DECRYPTION_FAILED'
  | 'AUTHENTICATION'
  | 'PERMISSION'
  | 'THROTTLED'
  | 'TRANSIENT'
  | 'PAGE_TOKEN_EXPIRED'
  /** A delta link Graph no longer knows (400 syncStateNotFound): the kind falls back to a full pull. */
  | 'DELTA_TOKEN_EXPIRED'
  /** Graph asks for a full resynchronisation of a delta kind (410 Gone): the kind falls back to a full pull. */
  | 'DELTA_RESYNC_REQUIRED'
  | 'GRAPH_REQUEST'
  /** Graph answered 404 for a collection: the base URL or the cloud is not this tenant's Graph. */
  | 'ENDPOINT_NOT_FOUND'
  | 'WINRM_FAULT'
  | 'WINRM_AUTH'
  | 'WINRM_QUOTA'
  | 'WINRM_SHELL_NOT_FOUND'
  | 'WINRM_ENVELOPE_TOO_LARGE'
  | 'WINRM_TIMEOUT'
  | 'POWERSHELL_ERROR'
  | 'OUTPUT_TOO_LARGE'
  | 'PROXY_UNAVAILABLE'
  | 'LEASE_LOST'
  | 'CANCELLED'
  | 'SERVICE_UNAVAILABLE'
  /** A sweep would delete more than the delete threshold allows: nothing deleted, run needs review. */
  | 'DELETE_THRESHOLD_EXCEEDED';

/**
 * Every code, at run time: metrics create their series for each one at start (workers/metrics.ts).
 * Keyed by the type, so a code added above without being listed here does not compile.
 */
const EVERY_CODE: Record<ErrorCode, true> = {
  INVALID_INPUT: true,
  NOT_FOUND: true,
  CONFLICT: true,
  CONFIGURATION: true,
  ENCRYPTION_KEY: true,
  DECRYPTION_FAILED: true,
  AUTHENTICATION: true,
  PERMISSION: true,
  THROTTLED: true,
  TRANSIENT: true,
  PAGE_TOKEN_EXPIRED: true,
  DELTA_TOKEN_EXPIRED: true,
  DELTA_RESYNC_REQUIRED: true,
  GRAPH_REQUEST: true,
  ENDPOINT_NOT_FOUND: true,
  WINRM_FAULT: true,
  WINRM_AUTH: true,
  WINRM_QUOTA: true,
  WINRM_SHELL_NOT_FOUND: true,
  WINRM_ENVELOPE_TOO_LARGE: true,
  WINRM_TIMEOUT: true,
  POWERSHELL_ERROR: true,
  OUTPUT_TOO_LARGE: true,
  PROXY_UNAVAILABLE: true,
  LEASE_LOST: true,
  CANCELLED: true,
  SERVICE_UNAVAILABLE: true,
  DELETE_THRESHOLD_EXCEEDED: true,
};
export const ERROR_CODES = Object.keys(EVERY_CODE) as ErrorCode[];

export interface SyncErrorOptions {
  /** A transient error may succeed when tried again; everything else fails at once. */
  retryable?: boolean;
  cause?: unknown;
}

export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** One problem with one field of an input, named the way the operator typed it (`Tenant.name`). */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ValidationError extends SyncError {
  readonly problems: FieldProblem[];

  constructor(subject: string, problems: FieldProblem[]) {
    super(
      'INVALID_INPUT',
      `${subject} is not valid:\n${problems.map((p) => `  - ${p.field}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ValidationError';
    this.problems = problems;
  }
}
