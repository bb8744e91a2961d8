import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { rendezvousOrder } from '../../../connectors/winrm/affinity.js';
import { proxyMetrics } from '../../../connectors/winrm/metrics.js';
import { ProxyPool, proxyPoolForTenant, type ProxyPoolInput } from '../../../connectors/winrm/proxy-pool.js';
import type { SyncError } from '../../../domain/errors.js';
import type { WinRmSimulator } from '../../../simulators/winrm/server.js';
import { eventually } from '../../support/eventually.js';
import {
  capturingLogger,
  expectNoShellLeft,
  PROXY_PASSWORD,
  PROXY_USER,
  simulator,
} from './support/simulated-proxy.js';

/** The PowerShell proxy pool against three simulated proxies. */
describe('ProxyPool', () => {
  const sims: WinRmSimulator[] = [];
  let pool: ProxyPool | undefined;
  const logs = capturingLogger();
  const registry = new Registry();
  const metrics = proxyMetrics(registry, { perProxy: true });

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) sims.push(await simulator({ hostName: `PSPROXY0${i + 1}` }));
  });

  afterEach(async () => {
    pool?.close();
    pool = undefined;
    for (const sim of sims) {
      expectNoShellLeft(sim);
      if (!sim.actions.length) continue;
      sim.actions.length = 0;
      sim.counters.commandsStarted = 0;
      sim.counters.peakOpenShells = 0;
    }
  });

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
    expect(logs.lines.join('')).not.toContain(PROXY_PASSWORD);
  });

  const keyOf = (sim: WinRmSimulator) => `127.0.0.1:${sim.port}`;
  const simOf = (key: string) => sims.find((s) => keyOf(s) === key)!;

  function makePool(overrides: Partial<ProxyPoolInput> = {}): ProxyPool {
    return new ProxyPool(
      {
        hosts: sims.map((s) => ({ host: '127.0.0.1', port: s.port })),
        scheme: 'http',
        username: PROXY_USER,
        password: PROXY_PASSWORD,
        affinityKey: 'worker-a',
        coolDownMs: 100,
        probeIntervalMs: 50,
        ...overrides,
      },
      { logger: logs.logger, metrics },
    );
  }

  async function runOn(p: ProxyPool, text: string): Promise<string> {
    const { result } = await p.execute(`Write-Output '${text}'`).collect();
    expect(result.exitCode).toBe(0);
    return result.proxy;
  }

  it("sends all of a worker's commands to one proxy, chosen by its affinity key", async () => {
    pool = makePool();
    const used = new Set<string>();
    for (let i = 0; i < 6; i++) used.add(await runOn(pool, `command ${i}`));
    expect([...used]).toEqual([pool.order[0]]);
    expect(simOf(pool.order[0]!).counters.commandsStarted).toBe(6);
    for (const key of pool.order.slice(1)) expect(simOf(key).counters.commandsStarted).toBe(0);

    // Other workers spread over the proxies, each with its own order.
    const firsts = new Set(
      Array.from({ length: 30 }, (_, i) => rendezvousOrder(`worker-${i}`, pool!.order)[0]),
    );
    expect(firsts.size).toBe(3);
  });

  it('labels proxies `all` by default (counts, not one series per host), and a closed pool leaves no gauge behind', async () => {
    const own = new Registry();
    const aggregated = proxyMetrics(own, { perProxy: false });
    const hosts = sims.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const options = { hosts, scheme: 'http' as const, username: PROXY_USER, password: PROXY_PASSWORD };
    const a = new ProxyPool({ ...options, affinityKey: 'a' }, { logger: logs.logger, metrics: aggregated });
    const b = new ProxyPool({ ...options, affinityKey: 'b' }, { logger: logs.logger, metrics: aggregated });
    try {
      expect(await runOn(a, 'counted')).toBe(a.order[0]);
      const text = await own.metrics();
      expect(text).toContain('m365sync_powershell_proxy_in_service{proxy="all"} 6');
      expect(text).toContain('m365sync_powershell_proxy_commands_total{proxy="all"} 1');
      expect(text).not.toContain('127.0.0.1');
      a.close();
      expect(await own.metrics()).toContain('m365sync_powershell_proxy_in_service{proxy="all"} 3');
    } finally {
      a.close();
      b.close();
    }
    expect(await own.getSingleMetricAsString('m365sync_powershell_proxy_in_service')).not.toContain('proxy=');
    // Per proxy (opt-in), a closed pool's series go too.
    pool = makePool();
    await runOn(pool, 'per proxy');
    expect(await registry.getSingleMetricAsString('m365sync_powershell_proxy_in_service')).toContain(
      `{proxy="${pool.order[0]}"} 1`,
    );
    pool.close();
    pool = undefined;
    expect(await registry.getSingleMetricAsString('m365sync_powershell_proxy_in_service')).not.toContain(
      'proxy=',
    );
  });

  it('moves a worker to its next proxy when its proxy stops, without failing, and back when it returns', async () => {
    pool = makePool();
    const [first, second] = pool.order as [string, string];
    const primary = simOf(first);
    expect(await runOn(pool, 'before')).toBe(first);

    await primary.stop();
    const during: string[] = [];
    for (let i = 0; i < 4; i++) during.push(await runOn(pool, `during ${i}`));
    expect(during).toEqual([second, second, second, second]);
    expect(pool.status()[0]).toMatchObject({ proxy: first, inService: false });
    expect(await registry.getSingleMetricAsString('m365sync_powershell_proxy_in_service')).toContain(
      `m365sync_powershell_proxy_in_service{proxy="${first}"} 0`,
    );

    await primary.start();
    const current = pool; // narrowed for the check below
    await eventually(async () => current.status()[0]!.inService, 10_000);
    expect(await runOn(pool, 'after')).toBe(first);
    expect(logs.lines.join('')).toContain('back in service');
  });

  it('fails over a command whose proxy drops before any output', async () => {
    // A cool-down longer than the test: with the default 100 ms, a loaded machine's command on the
    // second proxy could outlast it, and the probe would put the first back before the check below.
    pool = makePool({ attempts: 1, coolDownMs: 60_000 });
    const [first, second] = pool.order as [string, string];
    simOf(first).failNext('Create', 'http-503');
    expect(await runOn(pool, 'moved')).toBe(second);
    expect(pool.status()[0]).toMatchObject({ inService: false });
  });

  it('never opens more than its cap of shells on one proxy; callers wait for a slot', async () => {
    pool = makePool({ maxShellsPerProxy: 3 });
    const first = pool.order[0]!;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        pool!.execute(`Start-Sleep -Milliseconds 60\nWrite-Output '${i}'`).collect(),
      ),
    );
    expect(results.map((r) => r.stdout.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `${i}\r\n`));
    expect(new Set(results.map((r) => r.result.proxy))).toEqual(new Set([first]));
    expect(simOf(first).counters.peakOpenShells).toBe(3);
    expect(pool.status()[0]!.peakShells).toBe(3);
  });

  it('says so, retryably, when every proxy is down', async () => {
    pool = makePool({ attempts: 1, coolDownMs: 60_000 });
    for (const sim of sims) sim.failNext('Create', 'http-503');
    let error: SyncError | undefined;
    try {
      await pool.execute("Write-Output 'x'").collect();
    } catch (e) {
      error = e as SyncError;
    }
    expect(error).toMatchObject({ code: 'PROXY_UNAVAILABLE', retryable: true });
    expect(error!.message).toMatch(/3 of 3 out of service/);
    expect(error!.message).not.toContain(PROXY_PASSWORD);
  });

  it('counts commands, failures and latency per proxy, labelled by proxy only', async () => {
    pool = makePool({ attempts: 1 });
    const [first, second] = pool.order as [string, string];
    simOf(first).failNext('Create', 'http-503');
    expect(await runOn(pool, 'counted')).toBe(second);
    const text = await registry.metrics();
    expect(text).toContain(
      `m365sync_powershell_proxy_failures_total{proxy="${first}",code="PROXY_UNAVAILABLE"}`,
    );
    expect(text).toMatch(/m365sync_powershell_proxy_commands_total\{proxy="127\.0\.0\.1:\d+"\} \d+/);
    expect(text).toMatch(
      /m365sync_powershell_proxy_failures_total\{proxy="127\.0\.0\.1:\d+",code="PROXY_UNAVAILABLE"\} \d+/,
    );
    expect(text).toMatch(
      /m365sync_powershell_proxy_command_duration_seconds_count\{proxy="127\.0\.0\.1:\d+"\} \d+/,
    );
    expect(text).not.toContain(PROXY_USER);
  });

  it("builds a tenant's pool from its Microsoft Teams Powershell fields", async () => {
    pool = proxyPoolForTenant(
      {
        'Microsoft Teams Powershell': {
          hostName: sims.map((s) => `127.0.0.1:${s.port}`).join(', '),
          proxyUsername: PROXY_USER,
          proxyPassword: PROXY_PASSWORD,
        },
      },
      { scheme: 'http', affinityKey: 'worker-b' },
      { logger: logs.logger },
    );
    expect([...pool.order].sort()).toEqual(sims.map(keyOf).sort());
    const { stdout } = await pool.execute('# whoami').collect();
    expect(stdout.toString()).toBe(`${PROXY_USER}\r\n`);
  });
});
