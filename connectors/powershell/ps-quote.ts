/**
 * How a value from a tenant enters a generated PowerShell script: always as a single-quoted string
 * literal, never spliced into code. Inside a single-quoted literal PowerShell expands nothing (no `$`,
 * no backtick escapes, no sub-expressions); the only special characters are the quotes themselves.
 * PowerShell's tokenizer treats four characters as single quotes — the ASCII apostrophe and the
 * typographic U+2018, U+2019, U+201A, U+201B — and a quote doubled stands for one of itself.
 * Doubling each quote character is exactly what PowerShell's own
 * `CodeGeneration.EscapeSingleQuotedStringContent` does.
 */
import { GUID, THUMBPRINT } from '../../domain/tenant-fields.js';
import { SyncError } from '../../domain/errors.js';

/** The characters PowerShell reads as a single quote. */
export const SINGLE_QUOTES = ["'", '\u2018', '\u2019', '\u201A', '\u201B'] as const;
const QUOTE_RUN = /['\u2018\u2019\u201A\u201B]/g;

/** `O'Brien` → `'O''Brien'`: a PowerShell single-quoted literal whose value is exactly `value`. */
export function psLiteral(value: string): string {
  return `'${value.replace(QUOTE_RUN, (q) => q + q)}'`;
}

/** `@('a','b')`: an array of single-quoted literals. */
export function psLiteralArray(values: readonly string[]): string {
  return `@(${values.map(psLiteral).join(',')})`;
}

/** A whole number for a paging parameter, checked to be a positive integer in range. */
export function psInteger(value: number, name: string, min: number, max: number): string {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SyncError(
      'CONFIGURATION',
      `${name} must be a whole number from ${min} to ${max}, not ${value}`,
    );
  }
  return String(value);
}

/**
 * A GUID (client id, tenant id) checked before use, then quoted anyway. `field` names the tenant
 * field so the operator knows what to fix; the value itself is not a secret and is not echoed.
 */
export function psGuid(value: string | undefined, field: string): string {
  if (value === undefined || !GUID.test(value)) {
    throw new SyncError('CONFIGURATION', `${field} must be a GUID (8-4-4-4-12 hexadecimal digits)`);
  }
  return psLiteral(value.toLowerCase());
}

/**
 * A certificate thumbprint checked before use (40 hex digits, upper-cased as the Windows certificate
 * store shows them), then quoted. The Exchange thumbprint is stored as a password field, so the
 * message never shows the value.
 */
export function psThumbprint(value: string | undefined, field: string): string {
  const trimmed = value?.replace(/\s+/g, '');
  if (trimmed === undefined || !THUMBPRINT.test(trimmed)) {
    throw new SyncError(
      'CONFIGURATION',
      `${field} must be a certificate thumbprint of 40 hexadecimal digits (as shown by Get-ChildItem Cert:\\CurrentUser\\My)`,
    );
  }
  return psLiteral(trimmed.toUpperCase());
}
