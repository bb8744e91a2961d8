/** What a WinRS Command asks for, as the simulated proxy understands it. */
export type ParsedCommand =
  /** A bootstrap (the client's): the script that reads the real script from stdin and runs it. */
  | { kind: 'bootstrap' }
  /** `powershell -EncodedCommand X` with any other script (pywinrm's run_ps). */
  | { kind: 'powershell'; script: string }
  /** Anything else goes to the small cmd.exe emulator. */
  | { kind: 'cmd'; line: string };

/** `-EncodedCommand` and the prefixes PowerShell accepts for it (`-enc`, `-e`, `-ec`). */
const ENCODED =
  /^[-/](e|ec|en|enc|enco|encod|encode|encoded|encodedc|encodedco|encodedcom|encodedcomm|encodedcomma|encodedcomman|encodedcommand)$/i;

/** PowerShell's -EncodedCommand: base64 of UTF-16LE text. */
const decodeEncodedCommand = (encoded: string) => Buffer.from(encoded, 'base64').toString('utf16le');

/**
 * Told by what it does, as a PowerShell host would run it, not by comparing with the client's text:
 * a script that reads all of stdin and runs what it read as a script block.
 */
const readsScriptFromStdin = (script: string) =>
  /\[Console\]::In\.ReadToEnd\(\)/i.test(script) && /\[ScriptBlock\]::Create\(/i.test(script);

export function parseCommandLine(command: string, args: readonly string[]): ParsedCommand {
  // pywinrm puts the whole line in <Command>; our client uses <Arguments>. Same thing to cmd.exe.
  const line = [command, ...args].join(' ').trim();
  const tokens = line.split(/\s+/);
  if (/^powershell(\.exe)?$/i.test(tokens[0] ?? '')) {
    const at = tokens.findIndex((t) => ENCODED.test(t));
    const encoded = at >= 0 ? tokens[at + 1] : undefined;
    if (encoded !== undefined) {
      const script = decodeEncodedCommand(encoded);
      return readsScriptFromStdin(script) ? { kind: 'bootstrap' } : { kind: 'powershell', script };
    }
  }
  return { kind: 'cmd', line };
}
