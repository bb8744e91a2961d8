/** One PowerShell proxy named by a tenant's Host field. */
export interface PowerShellHost {
  host: string;
  /** Absent: the transport's default (5985 for HTTP, 5986 for HTTPS). */
  port?: number;
}

/** `ps1.example.com, 10.0.0.7:5986, [::1]:5985` → the proxies, in the order given. */
export function parsePowerShellHosts(hostName: string): PowerShellHost[] {
  return hostName
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const bracketed = entry.match(/^\[([^\]]+)\](?::(\d+))?$/);
      if (bracketed) return withPort(bracketed[1]!, bracketed[2]);
      const [host, port] = entry.split(':');
      return withPort(host!, port);
    });
}

function withPort(host: string, port: string | undefined): PowerShellHost {
  return port === undefined ? { host } : { host, port: Number(port) };
}
