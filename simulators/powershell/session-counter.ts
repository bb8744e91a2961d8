/**
 * Concurrent PowerShell sessions per sign-in account, as Teams and Exchange Online count them: a
 * session opens with Connect-MicrosoftTeams or Connect-ExchangeOnline and, in the simulator, lasts to
 * the end of its script. Shared by the script hosts of several simulated proxies, so a test sees the
 * concurrency of one account across all of them (the engine's per-account limit must hold it).
 */
export class SessionCounter {
  private readonly open = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  /** Sessions opened in all, per account. */
  readonly opened = new Map<string, number>();

  /** A sign-in of `account` (e.g. `teams:admin@contoso.example`); returns its end. */
  signIn(account: string): () => void {
    const now = (this.open.get(account) ?? 0) + 1;
    this.open.set(account, now);
    this.opened.set(account, (this.opened.get(account) ?? 0) + 1);
    this.peaks.set(account, Math.max(this.peaks.get(account) ?? 0, now));
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.open.set(account, (this.open.get(account) ?? 1) - 1);
    };
  }

  /** Sessions of `account` open now. */
  current(account: string): number {
    return this.open.get(account) ?? 0;
  }

  /** The most sessions of `account` ever open at once. */
  peak(account: string): number {
    return this.peaks.get(account) ?? 0;
  }

  /** Forgets the peaks (the totals stay), for a test's next round. */
  resetPeaks(): void {
    this.peaks.clear();
  }
}
