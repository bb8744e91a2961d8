/**
 * How a script of any length reaches a WinRS shell: the short command that starts it. cmd.exe cuts
 * command lines at 8,191 characters, so the real script never goes on the command line: this
 * bootstrap (passed as `-EncodedCommand`, UTF-16LE base64, well under the limit) reads the script
 * from stdin, which the WinRM client sends in chunks, and runs it as one script block. A concern of
 * the transport (connectors/powershell/ builds the scripts; it depends on winrm/, never the reverse).
 */

export const BOOTSTRAP_SCRIPT = [
  "$ProgressPreference = 'SilentlyContinue'",
  '[Console]::InputEncoding = [System.Text.UTF8Encoding]::new($false)',
  '[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)',
  '$m365syncScript = [Console]::In.ReadToEnd()',
  '& ([ScriptBlock]::Create($m365syncScript))',
].join('; ');

/** PowerShell's -EncodedCommand takes base64 of UTF-16LE text. */
export function encodePowerShellCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

/** The executable and arguments of a WinRS command that runs the bootstrap. */
export function bootstrapCommand(): { command: string; args: string[] } {
  return {
    command: 'powershell.exe',
    args: [
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-EncodedCommand',
      encodePowerShellCommand(BOOTSTRAP_SCRIPT),
    ],
  };
}
