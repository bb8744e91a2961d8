/**
 * Limits on what one PowerShell script may write, from the environment (documented in
 * docs/powershell.md). The engine passes them to splitScriptOutput.
 */
import { z } from 'zod';
import { SyncError } from '../../domain/errors.js';
import { DEFAULT_MAX_LINE_LENGTH } from './json-lines.js';
import { DEFAULT_MAX_STDERR_BYTES, type ScriptOutputOptions } from './script-output.js';

export const DEFAULT_MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  POWERSHELL_MAX_OUTPUT_BYTES: bytes(DEFAULT_MAX_OUTPUT_BYTES),
  POWERSHELL_MAX_STDERR_BYTES: bytes(DEFAULT_MAX_STDERR_BYTES),
  POWERSHELL_MAX_LINE_CHARS: bytes(DEFAULT_MAX_LINE_LENGTH),
});

export function powershellOutputLimits(env: NodeJS.ProcessEnv = process.env): ScriptOutputOptions {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new SyncError('CONFIGURATION', `${names}: must be a positive whole number (bytes or characters)`);
  }
  return {
    maxBytes: parsed.data.POWERSHELL_MAX_OUTPUT_BYTES,
    maxStderrBytes: parsed.data.POWERSHELL_MAX_STDERR_BYTES,
    maxLineLength: parsed.data.POWERSHELL_MAX_LINE_CHARS,
  };
}
