/**
 * Where a worker remembers the shells it has open on its PowerShell proxies, outside its own memory,
 * so that the shells of a worker that died (SIGKILL, out of memory, a lost node) can be deleted by
 * the next worker that starts, instead of staying open until the proxy's idle timeout, each holding
 * one of the account's MaxShellsPerUser slots. The WinRM client reports each shell it creates and
 * each it deletes (or finds gone); what stores the ledger (Redis, workers/shell-ledger.ts) is not the
 * client's business.
 */
export interface OpenShellEntry {
  /** `host:port` of the proxy the shell lives on (a ShellId exists only on the node that made it). */
  proxy: string;
  shellId: string;
  /**
   * Who the shell was opened for (the tenant id): what lets a later process find the proxy account's
   * credentials. Never the credentials themselves.
   */
  owner?: string;
  /** Epoch ms. */
  openedAt: number;
}

export interface ShellLedger {
  opened(entry: OpenShellEntry): Promise<void>;
  closed(proxy: string, shellId: string): Promise<void>;
}
