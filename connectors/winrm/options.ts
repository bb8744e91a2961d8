import { z } from 'zod';
import { WINRM_DEFAULTS } from './defaults.js';

/**
 * Options of a WinRM client for one PowerShell proxy, validated at the boundary. Defaults follow the
 * documented proxy set-up (Basic over HTTP 5985 or HTTPS 5986) and the server's defaults.
 */
export const winRmClientOptionsSchema = z.object({
  host: z.string().min(1),
  /** Absent: 5985 for HTTP, 5986 for HTTPS. */
  port: z.number().int().min(1).max(65535).optional(),
  /** @default WINRM_DEFAULTS.scheme (`https`) */
  scheme: z.enum(['http', 'https']).default(WINRM_DEFAULTS.scheme),
  /** `Microsoft Teams Powershell.proxyUsername`: a local account on the proxy. */
  username: z.string().min(1),
  /** `Microsoft Teams Powershell.proxyPassword`. */
  password: z.string().min(1),
  /** PEM CA bundle for the proxy's HTTPS certificate. */
  ca: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  /** @default WINRM_DEFAULTS.rejectUnauthorized (true) */
  rejectUnauthorized: z.boolean().default(WINRM_DEFAULTS.rejectUnauthorized),
  /**
   * w:OperationTimeout: how long the server may hold a Receive with no output. At most 60 s.
   * @default WINRM_DEFAULTS.operationTimeoutMs (20 s)
   */
  operationTimeoutMs: z.number().int().min(100).max(60_000).default(WINRM_DEFAULTS.operationTimeoutMs),
  /**
   * rsp:IdleTimeOut asked for each shell: the proxy deletes a shell that has had no request for this
   * long (a shell left behind by a killed worker). Well above OperationTimeout, since a running
   * command is kept alive by its Receives; Windows accepts 60 s to its MaxIdleTimeoutms (12 h).
   * @default WINRM_DEFAULTS.idleTimeoutMs (15 minutes)
   */
  idleTimeoutMs: z.number().int().min(1000).default(WINRM_DEFAULTS.idleTimeoutMs),
  /** Added to OperationTimeout for the HTTP timeout (MS-WSMV's NetworkDelayms). */
  networkDelayMs: z.number().int().min(0).default(10_000),
  /**
   * w:MaxEnvelopeSize in bytes; also sizes the stdin Sends. 150 KB works with every server version.
   * @default WINRM_DEFAULTS.maxEnvelopeSize (153,600)
   */
  maxEnvelopeSize: z.number().int().min(8192).default(WINRM_DEFAULTS.maxEnvelopeSize),
  /** WINRS_CODEPAGE: 65001 is UTF-8, so non-ASCII text survives. */
  codepage: z.number().int().default(65001),
  /** Keep-alive sockets per proxy. */
  maxSockets: z.number().int().min(1).default(32),
  /** Attempts to create a shell or start a command while a quota fault says the proxy is full. */
  quotaRetries: z.number().int().min(0).default(6),
  /** First wait after a quota fault; doubles each time. */
  quotaBackoffMs: z.number().int().min(1).default(500),
  /**
   * Attempts of a whole command when its shell is lost (shell not found, dropped connection) before
   * any output reached the caller. Generated scripts only read, so rerunning is safe.
   */
  attempts: z.number().int().min(1).default(2),
  /**
   * A Receive that comes back with no output long before its OperationTimeout (a proxy or load
   * balancer answering empty at once) is followed by a wait before the next one, so the client never
   * spins: this first wait, doubling per empty answer in a row up to `maxEmptyReceiveWaitMs`. Output
   * resets it; a Receive the server really held for its OperationTimeout waits nothing more.
   */
  emptyReceiveWaitMs: z.number().int().min(1).default(50),
  maxEmptyReceiveWaitMs: z.number().int().min(1).default(2000),
});

export type WinRmClientInput = z.input<typeof winRmClientOptionsSchema>;
export type WinRmClientOptions = z.output<typeof winRmClientOptionsSchema>;

export const DEFAULT_PORT = { http: 5985, https: 5986 } as const;
