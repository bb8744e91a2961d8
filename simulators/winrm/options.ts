import { z } from 'zod';
import type { ScriptHost } from '../powershell/script-host.js';

/** Options of one simulated PowerShell proxy (a WinRM service on loopback). */
export const winRmSimulatorOptionsSchema = z.object({
  host: z.string().default('127.0.0.1'),
  /** 0: an ephemeral port (tests). */
  port: z.number().int().min(0).max(65535).default(0),
  /** The proxy's local accounts, for Basic authentication. */
  accounts: z.array(z.object({ username: z.string().min(1), password: z.string().min(1) })).min(1),
  /** The computer name shown in faults and `hostname`. */
  hostName: z.string().default('PSPROXY01'),
  /** AllowUnencrypted: when false, every request over plain HTTP gets 401, as on a default Windows host. */
  allowUnencrypted: z.boolean().default(true),
  /** Serve HTTPS with this key and certificate (PEM). */
  tls: z.object({ key: z.string(), cert: z.string() }).optional(),
  maxShellsPerUser: z.number().int().min(1).default(30),
  maxConcurrentOperationsPerUser: z.number().int().min(1).default(1500),
  maxEnvelopeSizeKb: z.number().int().min(8).default(500),
  /** MaxTimeoutms: the longest OperationTimeout the service honours. */
  maxTimeoutMs: z.number().int().min(10).default(60_000),
  /** Bytes per <rsp:Stream> element; odd by default so multi-byte UTF-8 characters get split. */
  streamChunkBytes: z.number().int().min(1).default(4093),
  /** Caps the output bytes in one Receive below what the client's MaxEnvelopeSize allows. */
  maxReceiveBytes: z.number().int().min(1).optional(),
  /** A script that has this much output waiting for Receive is paused (back-pressure). */
  outputHighWaterBytes: z
    .number()
    .int()
    .min(1)
    .default(1 << 20),
  /** Added before every response (a slow proxy). */
  responseDelayMs: z.number().int().min(0).default(0),
  /** IdleTimeout for a shell whose Create asks for none (Windows: 2 hours). */
  defaultIdleTimeoutMs: z.number().int().min(1).default(7_200_000),
  /** MaxIdleTimeoutms: the longest IdleTimeOut the service grants (Windows: 12 hours). */
  maxIdleTimeoutMs: z.number().int().min(1).default(43_200_000),
  /** How often idle shells are looked for. */
  idleCheckMs: z.number().int().min(10).default(250),
  /** Entries kept in the action log (oldest dropped). */
  actionLogLimit: z.number().int().min(1).default(10_000),
  /** Runs PowerShell scripts; without one, PowerShell commands fail with exit code 1. */
  scriptHost: z.custom<ScriptHost>((v) => typeof v === 'function').optional(),
});

export type WinRmSimulatorInput = z.input<typeof winRmSimulatorOptionsSchema>;
export type WinRmSimulatorOptions = z.output<typeof winRmSimulatorOptionsSchema>;
