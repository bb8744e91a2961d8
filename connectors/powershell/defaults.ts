/**
 * What the PowerShell output options mean when a caller leaves them out, written once: the option
 * interfaces' `@default` tags name these, and the decoders read them from here. A limit a deployment
 * sets (POWERSHELL_MAX_*) is that variable's default in domain/settings.ts, never a second copy.
 */
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

export const POWERSHELL_DEFAULTS = Object.freeze({
  /**
   * Total bytes accepted before failing with OUTPUT_TOO_LARGE: no limit for the decoders themselves;
   * the engine passes POWERSHELL_MAX_OUTPUT_BYTES (config.ts).
   */
  maxBytes: Number.POSITIVE_INFINITY,
  /** stderr kept for decoding (POWERSHELL_MAX_STDERR_BYTES, 1 MiB). */
  maxStderrBytes: DEFAULT_SETTINGS.POWERSHELL_MAX_STDERR_BYTES,
  /** Longest single line, in UTF-16 code units, held while waiting for its end (POWERSHELL_MAX_LINE_CHARS, 64 Mi). */
  maxLineLength: DEFAULT_SETTINGS.POWERSHELL_MAX_LINE_CHARS,
  /** Convert `\/Date(ms)\/` dates and known enums. */
  normalise: true,
});
