/**
 * The contract between the simulated WinRM server (simulators/winrm) and what runs a PowerShell
 * script behind it (the simulated tenant, simulators/powershell). The WinRM side owns shells,
 * commands, stdin and Receive; the script host owns what a script prints and its exit code.
 */

export interface ScriptOutput {
  /** Text written to stdout. Awaiting it applies back-pressure: the host waits while Receive lags. */
  stdout(text: string): Promise<void>;
  /** Text written to stderr (PowerShell writes CLIXML there for errors over WinRM). */
  stderr(text: string): Promise<void>;
}

export interface ScriptContext {
  /** The local account the WinRM client authenticated as (the PowerShell proxy's service account). */
  proxyUser: string;
  /** Aborted when the client signals terminate or deletes the shell. */
  signal: AbortSignal;
}

/** Runs one PowerShell script to its end; resolves with the process exit code. */
export type ScriptHost = (script: string, output: ScriptOutput, context: ScriptContext) => Promise<number>;
