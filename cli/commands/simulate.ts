/**
 * `m365sync simulate graph|winrm|tenant`: the simulators on their own, for the demo, benchmarks and
 * trying the CLI against something. They bind to loopback and speak only to this machine.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { graphSimulatorCommand } from '../../simulators/graph/command.js';
import { startSimulatedTenant } from '../../simulators/m365.js';
import { winrmSimulatorCommand } from '../../simulators/winrm/command.js';
import type { CliContext } from './context.js';

export function simulateCommand(ctx: CliContext): Command {
  const simulate = new Command('simulate').description('run a simulated Microsoft 365 endpoint on loopback');
  simulate.addCommand(graphSimulatorCommand());
  simulate.addCommand(
    winrmSimulatorCommand(() => ({
      proxy: ctx.settings.M365SYNC_SIM_PROXY_PASSWORD,
      teams: ctx.settings.M365SYNC_SIM_TEAMS_PASSWORD,
    })),
  );
  simulate.addCommand(
    new Command('tenant')
      .description(
        'a whole simulated tenant: Graph plus PowerShell proxies over one data set; writes a tenant file to register',
      )
      .option('--users <n>', 'users in the data set', Number, 1000)
      .option('--seed <n>', 'data set seed', Number, 1)
      .option('--proxies <n>', 'simulated PowerShell proxies', Number, 2)
      .option('--exchange', 'enable Exchange in the tenant file')
      .option('--dir <dir>', 'where to write the tenant file and the CA', '.data/simulator')
      .action(async (options) => {
        const sim = await startSimulatedTenant({
          dataset: { seed: options.seed, users: options.users },
          proxies: options.proxies,
          enableExchange: Boolean(options.exchange),
        });
        const dir = resolve(options.dir);
        await mkdir(dir, { recursive: true });
        const caFile = join(dir, 'graph-ca.pem');
        const tenantFile = join(dir, 'tenant.yaml');
        await writeFile(caFile, sim.ca);
        await writeFile(tenantFile, toYaml(sim.tenantInput), { mode: 0o600 });
        ctx.io.out(
          [
            `Simulated tenant: Graph at ${sim.graph.url}, PowerShell proxies at ${sim.proxies.map((p) => `127.0.0.1:${p.port}`).join(', ')}`,
            `  ${sim.dataset().users.length} users, seed ${options.seed}`,
            `  register it:  m365sync tenants add -f ${tenantFile}`,
            `  then run a worker with M365SYNC_GRAPH_CA_FILE=${caFile} M365SYNC_WINRM_SCHEME=http`,
            'Press Ctrl+C to stop.',
          ].join('\n'),
        );
        await new Promise<void>((done) => {
          const stop = () => void sim.close().then(done);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      }),
  );
  return simulate;
}
