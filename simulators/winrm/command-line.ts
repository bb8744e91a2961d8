import { BOOTSTRAP_SCRIPT, decodePowerShellCommand } from '../../connectors/powershell/bootstrap.js';

/** What a WinRS Command asks for, as the simulated proxy understands it. */
export type ParsedCommand =
  /** Our bootstrap: the script arrives on stdin. */
  | { kind: 'bootstrap' }
  /** `powershell -EncodedCommand X` with any other script (pywinrm's run_ps). */
  | { kind: 'powershell'; script: string }
  /** Anything else goes to the small cmd.exe emulator. */
  | { kind: 'cmd'; line: string };

/** `-EncodedCommand` and the prefixes PowerShell accepts for it (`-enc`, `-e`, `-ec`). */
const ENCODED =
  /^[-/](e|ec|en|enc|enco|encod|encode|encoded|encodedc|encodedco|encodedcom|encodedcomm|encodedcomma|encodedcomman|encodedcommand)$/i;

export function parseCommandLine(command: string, args: readonly string[]): ParsedCommand {
  // pywinrm puts the whole line in <Command>; our client uses <Arguments>. Same thing to cmd.exe.
  const line = [command, ...args].join(' ').trim();
  const tokens = line.split(/\s+/);
  if (/^powershell(\.exe)?$/i.test(tokens[0] ?? '')) {
    const at = tokens.findIndex((t) => ENCODED.test(t));
    const encoded = at >= 0 ? tokens[at + 1] : undefined;
    if (encoded !== undefined) {
      const script = decodePowerShellCommand(encoded);
      return script === BOOTSTRAP_SCRIPT ? { kind: 'bootstrap' } : { kind: 'powershell', script };
    }
  }
  return { kind: 'cmd', line };
}
