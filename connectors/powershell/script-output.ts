/**
 * One script's mixed output, as the WinRM client yields it (stdout and stderr chunks interleaved),
 * split into what the engine needs: stdout as JSON Lines records, streamed; stderr collected (it is
 * small: errors and warnings) and decoded from CLIXML once the script has ended. Then the exit code
 * and the messages become one SyncError with an operator-facing message, never quoting a secret.
 */
import { SyncError } from '../../domain/errors.js';
import { redactSecrets } from '../../domain/redaction.js';
import { decodeClixmlMessages, type ClixmlMessage } from './clixml.js';
import { POWERSHELL_DEFAULTS } from './defaults.js';
import { JsonLinesDecoder, outputTooLarge, type JsonLinesOptions } from './json-lines.js';
import type { ScriptRecord } from './records.js';

export { redactSecrets };

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ScriptOutputOptions extends JsonLinesOptions {
  /**
   * stderr kept for decoding; beyond it the rest is counted and dropped.
   * @default POWERSHELL_DEFAULTS.maxStderrBytes (1 MiB, POWERSHELL_MAX_STDERR_BYTES's default)
   */
  maxStderrBytes?: number;
  /**
   * The tenant's secrets (tenantSecrets): masked, in every spelling, out of each `err` line's
   * message, which quotes whatever the failing cmdlet said (a script line, a request URL).
   */
  secrets?: readonly string[];
}

/** Longest `err` message kept: it goes into a run record and an operator's terminal. */
const MAX_ERR_MESSAGE_CHARS = 1000;

export interface ScriptOutput {
  /** The stdout records in order. Iterate once; this drives the reading of the whole output. */
  records: AsyncIterable<ScriptRecord>;
  /** Decoded stderr messages (progress dropped). Complete once `records` is exhausted. */
  messages(): ClixmlMessage[];
  /** Only the error-stream messages. */
  errors(): string[];
}

export function splitScriptOutput(
  chunks: AsyncIterable<OutputChunk>,
  options: ScriptOutputOptions = {},
): ScriptOutput {
  const maxStderr = options.maxStderrBytes ?? POWERSHELL_DEFAULTS.maxStderrBytes;
  const secrets = options.secrets ?? [];
  const maxBytes = options.maxBytes ?? POWERSHELL_DEFAULTS.maxBytes;
  // stdout's own budget is the whole budget; stderr counts against it too (below).
  const stdout = new JsonLinesDecoder({ ...options, maxBytes: Number.POSITIVE_INFINITY });
  const stderr: Buffer[] = [];
  let stderrKept = 0;
  let total = 0;
  let decoded: ClixmlMessage[] | undefined;

  async function* records(): AsyncIterable<ScriptRecord> {
    for await (const chunk of chunks) {
      total += chunk.data.byteLength;
      if (total > maxBytes) throw outputTooLarge(maxBytes);
      if (chunk.stream === 'stdout') {
        for (const record of stdout.push(chunk.data)) yield scrubbed(record);
      } else if (stderrKept < maxStderr) {
        const part = chunk.data.subarray(0, maxStderr - stderrKept);
        stderr.push(part);
        stderrKept += part.byteLength;
      }
    }
    for (const record of stdout.end()) yield scrubbed(record);
  }

  function scrubbed(record: ScriptRecord): ScriptRecord {
    if (record.t !== 'err') return record;
    return { ...record, message: redactSecrets(record.message, secrets).slice(0, MAX_ERR_MESSAGE_CHARS) };
  }

  const messages = () => (decoded ??= decodeClixmlMessages(Buffer.concat(stderr).toString('utf8')));
  return {
    records: records(),
    messages,
    errors: () =>
      messages()
        .filter((m) => m.stream === 'error')
        .map((m) => m.message),
  };
}

export type PowerShellApplication = 'Microsoft Teams' | 'Exchange Online';

/** Entra sign-in errors seen by Connect-MicrosoftTeams / Connect-ExchangeOnline, and what to do. */
const SIGN_IN_PROBLEMS: { test: RegExp; advice: (app: PowerShellApplication) => string }[] = [
  {
    test: /AADSTS50126|AADSTS50034|AADSTS50053|AADSTS50057|AADSTS50055/,
    advice: () =>
      'the service account could not sign in (wrong user name or password, or the account is locked, disabled or expired). ' +
      'Check Microsoft Teams.tenantUsername and tenantPassword.',
  },
  {
    test: /AADSTS50076|AADSTS50079|AADSTS50158|multi-factor/i,
    advice: () =>
      'the service account must use multi-factor authentication, which a script cannot do. ' +
      'Set Microsoft Teams.authentication to certificate and give certificate_thumbprint (app-only).',
  },
  {
    test: /certificate/i,
    advice: (app) =>
      `the ${app} certificate could not be used. Install it with its private key in Cert:\\CurrentUser\\My of the ` +
      'PowerShell proxy account and check the thumbprint in the tenant.',
  },
  {
    test: /AADSTS700016|AADSTS90002|AADSTS7000215|AADSTS700027/,
    advice: () =>
      'the app registration or tenant was not found or rejected. Check Microsoft 365.client_id and tenant_id.',
  },
];

/**
 * The failure of a finished script, if it failed: a non-zero exit code, or error messages with no
 * `done` line. `secrets` (tenantSecrets(tenant)) are masked from every message.
 */
export function scriptFailure(
  application: PowerShellApplication,
  exitCode: number,
  errors: readonly string[],
  secrets: readonly string[],
  sawDone = exitCode === 0,
): SyncError | undefined {
  if (exitCode === 0 && sawDone) return undefined;
  const first = redactSecrets(errors[0] ?? '', secrets).slice(0, MAX_ERR_MESSAGE_CHARS);
  const problem = SIGN_IN_PROBLEMS.find((p) => p.test.test(first));
  if (problem && /Connect-|AADSTS|sign|certificate/i.test(first)) {
    return new SyncError(
      'AUTHENTICATION',
      `${application} sign-in failed: ${problem.advice(application)} (${first})`,
    );
  }
  const what = first || `no error message (exit code ${exitCode})`;
  return new SyncError(
    'POWERSHELL_ERROR',
    `The ${application} PowerShell script stopped with exit code ${exitCode}${sawDone ? '' : ' before its end'}: ${what}`,
    { retryable: true },
  );
}
