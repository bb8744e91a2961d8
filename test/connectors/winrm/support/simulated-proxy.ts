import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import { WinRmClient } from '../../../../connectors/winrm/client.js';
import type { WinRmClientInput } from '../../../../connectors/winrm/options.js';
import { startWinRmSimulator, type WinRmSimulator } from '../../../../simulators/winrm/server.js';
import type { WinRmSimulatorInput } from '../../../../simulators/winrm/options.js';
import { testScriptHost } from './test-script-host.js';

export const PROXY_USER = 'svc-proxy';
/** Distinctive, so a test can search logs and errors for it. */
export const PROXY_PASSWORD = 'S3cret-Proxy-P4ss!';

/** A logger whose lines a test can read (to prove that no secret reaches them). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export async function simulator(overrides: Partial<WinRmSimulatorInput> = {}): Promise<WinRmSimulator> {
  return startWinRmSimulator({
    accounts: [{ username: PROXY_USER, password: PROXY_PASSWORD }],
    scriptHost: testScriptHost,
    ...overrides,
  });
}

export function clientFor(
  sim: WinRmSimulator,
  logger: Logger,
  overrides: Partial<WinRmClientInput> = {},
): WinRmClient {
  return new WinRmClient(
    {
      host: '127.0.0.1',
      port: sim.port,
      scheme: 'http',
      username: PROXY_USER,
      password: PROXY_PASSWORD,
      quotaBackoffMs: 50,
      ...overrides,
    },
    { logger },
  );
}

/** Every shell the simulator created was deleted (or lost to a simulated restart), none is open. */
export function expectNoShellLeft(sim: WinRmSimulator): void {
  expect(sim.counters.openShells).toBe(0);
  expect(sim.counters.shellsCreated).toBe(sim.counters.shellsDeleted + sim.counters.shellsLost);
}
