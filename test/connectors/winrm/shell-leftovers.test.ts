/**
 * Shells that outlive their worker: the client asks for an IdleTimeOut, the simulated proxy honours
 * it (a shell with no request for that long is deleted, a waiting Receive keeps one alive), and the
 * shutdown hook deletes the shells of commands still running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyPool } from '../../../connectors/winrm/proxy-pool.js';
import type { OpenShellEntry, ShellLedger } from '../../../connectors/winrm/shell-ledger.js';
import type { WinRmSimulator } from '../../../simulators/winrm/server.js';
import { eventually } from '../../workers/support/harness.js';
import {
  capturingLogger,
  clientFor,
  expectNoShellLeft,
  PROXY_PASSWORD,
  PROXY_USER,
  simulator,
} from './support/simulated-proxy.js';

class MemoryLedger implements ShellLedger {
  readonly entries = new Map<string, OpenShellEntry>();
  async opened(entry: OpenShellEntry): Promise<void> {
    this.entries.set(`${entry.proxy} ${entry.shellId}`, entry);
  }
  async closed(proxy: string, shellId: string): Promise<void> {
    this.entries.delete(`${proxy} ${shellId}`);
  }
}

describe('WinRM shells left behind', () => {
  const logs = capturingLogger();
  let sim: WinRmSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('asks the proxy for an IdleTimeOut (15 minutes by default, or as configured)', async () => {
    sim = await simulator();
    const byDefault = clientFor(sim, logs.logger);
    const shell = await byDefault.openShell();
    expect(sim.listShells()).toEqual([expect.objectContaining({ id: shell.id, idleTimeoutMs: 900_000 })]);
    await shell.delete();
    const configured = clientFor(sim, logs.logger, { idleTimeoutMs: 120_000 });
    const second = await configured.openShell();
    expect(sim.listShells()).toEqual([expect.objectContaining({ id: second.id, idleTimeoutMs: 120_000 })]);
    await second.delete();
    byDefault.close();
    configured.close();
    expectNoShellLeft(sim);
  });

  it('has the simulated proxy delete a shell idle for its IdleTimeOut, not one with a Receive waiting', async () => {
    sim = await simulator({ idleCheckMs: 20, maxTimeoutMs: 60_000 });
    const client = clientFor(sim, logs.logger, { idleTimeoutMs: 1000, operationTimeoutMs: 3000 });
    const idle = await client.openShell();
    // A command that runs longer than the idle timeout, its output awaited by a Receive all along.
    const busy = client.execute("Start-Sleep -Milliseconds 2500\nWrite-Output 'still here'");
    const collected = busy.collect();
    await eventually(async () => sim!.counters.shellsIdleTimedOut === 1, 10_000);
    expect(sim.actions.find((a) => a.action === 'IdleTimeout')?.shellId).toBe(idle.id);
    const out = await collected;
    expect(out.stdout.toString('utf8')).toContain('still here');
    await expect(idle.delete()).rejects.toMatchObject({ code: 'WINRM_SHELL_NOT_FOUND' });
    expect(sim.counters.openShells).toBe(0);
    client.close();
  });

  it('deletes the shells of running commands at shutdown, and keeps the ledger in step', async () => {
    sim = await simulator();
    const ledger = new MemoryLedger();
    const pool = new ProxyPool(
      {
        hosts: [{ host: '127.0.0.1', port: sim.port }],
        scheme: 'http',
        username: PROXY_USER,
        password: PROXY_PASSWORD,
        affinityKey: 'shutdown-test',
      },
      { logger: logs.logger, ledger, owner: 'tenant-1' },
    );
    // Two scripts that would run for a minute; their consumers hold on to the first output.
    const runs = [1, 2].map(() =>
      pool.execute("Write-Output 'started'\nStart-Sleep -Milliseconds 60000\nWrite-Output 'late'"),
    );
    const iterators = runs.map((r) => r[Symbol.asyncIterator]());
    await Promise.all(iterators.map((it) => it.next()));
    expect(sim.counters.openShells).toBe(2);
    expect([...ledger.entries.values()].map((e) => [e.proxy, e.owner]).sort()).toEqual([
      [`127.0.0.1:${sim.port}`, 'tenant-1'],
      [`127.0.0.1:${sim.port}`, 'tenant-1'],
    ]);
    expect(JSON.stringify([...ledger.entries.values()])).not.toContain(PROXY_PASSWORD);

    expect(await pool.deleteOpenShells()).toBe(2);
    expect(sim.counters.openShells).toBe(0);
    expect(pool.openShells()).toEqual([]);
    expect(ledger.entries.size).toBe(0);
    // The interrupted runs end with an error, not a hang.
    for (const it of iterators)
      await expect(it.next()).rejects.toMatchObject({ code: 'WINRM_SHELL_NOT_FOUND' });
    pool.close();
    expectNoShellLeft(sim);
  });
});
