import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { generateDataset } from '../dataset.js';
import { createTenantScriptHost } from '../powershell/tenant-host.js';
import { startWinRmSimulator } from './server.js';

/**
 * `m365sync simulate winrm`: a simulated PowerShell proxy on its own, with the simulated tenant
 * (the same data set as the Graph simulator for the same seed) behind it. Runs until Ctrl-C.
 * `passwords` gives M365SYNC_SIM_PROXY_PASSWORD and M365SYNC_SIM_TEAMS_PASSWORD from the process settings.
 */
export function winrmSimulatorCommand(
  passwords: () => { proxy?: string | undefined; teams?: string | undefined } = () => ({}),
): Command {
  return new Command('winrm')
    .description(
      'Run a simulated PowerShell proxy (WinRM / WS-Management, Basic authentication) backed by the simulated tenant',
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', integer, 5985)
    .option(
      '--user <name>',
      "the proxy's local account (Microsoft Teams Powershell.proxyUsername)",
      'svc-proxy',
    )
    .option(
      '--password <password>',
      'its password; or set M365SYNC_SIM_PROXY_PASSWORD (kept out of the process list)',
    )
    .option(
      '--teams-user <upn>',
      'Teams service account the simulated tenant accepts',
      'teams-admin@contoso.example',
    )
    .option('--teams-password <password>', 'its password; or set M365SYNC_SIM_TEAMS_PASSWORD')
    .option(
      '--certificate-thumbprint <thumbprint...>',
      'certificate thumbprints the simulated tenant accepts (app-only sign-in)',
      [],
    )
    .option('--seed <n>', 'data set seed (use the Graph simulator’s seed so users join by id)', integer, 1)
    .option('--users <n>', 'users in the data set', integer)
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--deny-unencrypted', 'answer 401 to plain HTTP, like a host without AllowUnencrypted')
    .option('--max-shells-per-user <n>', 'MaxShellsPerUser quota', integer, 30)
    .option('--operation-delay <ms>', 'delay before every response (a slow proxy)', integer, 0)
    .action(async (opts: SimulateWinRmOptions, command: Command) => {
      const password = opts.password ?? passwords().proxy;
      const teamsPassword = opts.teamsPassword ?? passwords().teams;
      if (!password)
        command.error('give the proxy account password with --password or M365SYNC_SIM_PROXY_PASSWORD');
      if (!teamsPassword && opts.certificateThumbprint.length === 0) {
        command.error('give --teams-password (or M365SYNC_SIM_TEAMS_PASSWORD) or --certificate-thumbprint');
      }
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey))
        command.error('--tls-cert and --tls-key go together');
      const dataset = generateDataset({
        seed: opts.seed,
        ...(opts.users === undefined ? {} : { users: opts.users }),
      });
      const sim = await startWinRmSimulator({
        host: opts.host,
        port: opts.port,
        accounts: [{ username: opts.user, password: password! }],
        allowUnencrypted: !opts.denyUnencrypted,
        maxShellsPerUser: opts.maxShellsPerUser,
        responseDelayMs: opts.operationDelay,
        ...(opts.tlsCert && opts.tlsKey
          ? { tls: { cert: readFileSync(opts.tlsCert, 'utf8'), key: readFileSync(opts.tlsKey, 'utf8') } }
          : {}),
        scriptHost: createTenantScriptHost({
          dataset,
          teamsAccounts: teamsPassword ? [{ username: opts.teamsUser, password: teamsPassword }] : [],
          certificateThumbprints: opts.certificateThumbprint,
        }),
      });
      console.log(
        `Simulated PowerShell proxy listening at ${sim.url} (account ${opts.user}; tenant ${dataset.tenantId}, ` +
          `domain ${dataset.domain}, initial domain ${dataset.initialDomain}, seed ${opts.seed}). Ctrl-C stops it.`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.close();
      console.log(
        `Stopped: ${sim.counters.shellsCreated} shells created, ${sim.counters.shellsDeleted} deleted, ${sim.counters.commandsStarted} commands.`,
      );
    });
}

interface SimulateWinRmOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  teamsUser: string;
  teamsPassword?: string;
  certificateThumbprint: string[];
  seed: number;
  users?: number;
  tlsCert?: string;
  tlsKey?: string;
  denyUnencrypted?: boolean;
  maxShellsPerUser: number;
  operationDelay: number;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}
