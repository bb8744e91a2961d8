/**
 * Limits on what one PowerShell script may write (POWERSHELL_MAX_*, documented in
 * docs/powershell.md), from the process settings. The engine passes them to splitScriptOutput.
 */
import type { Settings } from '../../domain/settings.js';
import type { ScriptOutputOptions } from './script-output.js';

export function powershellOutputLimits(
  e: Pick<
    Settings,
    'POWERSHELL_MAX_OUTPUT_BYTES' | 'POWERSHELL_MAX_STDERR_BYTES' | 'POWERSHELL_MAX_LINE_CHARS'
  >,
): ScriptOutputOptions {
  return {
    maxBytes: e.POWERSHELL_MAX_OUTPUT_BYTES,
    maxStderrBytes: e.POWERSHELL_MAX_STDERR_BYTES,
    maxLineLength: e.POWERSHELL_MAX_LINE_CHARS,
  };
}
