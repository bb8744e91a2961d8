/**
 * `m365sync simulate graph`: runs the simulated Graph tenant on its own, for the demo, the benchmarks
 * and trying the connector by hand. Prints where it listens, the CA file to trust and an app
 * registration to sign in with.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { generateDataset } from '../dataset.js';
import { generateAppCertificate } from './certificates.js';
import { startGraphSimulator, type GraphSimulator, type SimulatedApp } from './server.js';

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

export interface SimulateGraphOptions {
  users: number;
  groups: number;
  teams: number;
  seed: number;
  port: number;
  host: string;
  latency: number;
  pageTokenTtl?: number;
  deltaPageSize?: number;
  deltaTokenLifetime?: number;
  clientId: string;
  clientSecret: string;
  certificate: boolean;
  dir: string;
}

/** Starts the simulator as the command would; returns it and the lines the command prints. */
export async function runGraphSimulator(
  o: SimulateGraphOptions,
): Promise<{ sim: GraphSimulator; lines: string[] }> {
  const dir = resolve(o.dir);
  await mkdir(dir, { recursive: true });
  const apps: SimulatedApp[] = [{ clientId: o.clientId, clientSecret: o.clientSecret }];
  const cert = o.certificate ? await generateAppCertificate() : undefined;
  if (cert) apps[0]!.certificates = [cert.certificatePem];
  const sim = await startGraphSimulator({
    dataset: generateDataset({ seed: o.seed, users: o.users, groups: o.groups, teams: o.teams }),
    apps,
    port: o.port,
    host: o.host,
    latencyMs: o.latency,
    ...(o.pageTokenTtl !== undefined ? { pageTokenTtlMs: o.pageTokenTtl * 1000 } : {}),
    delta: {
      ...(o.deltaPageSize !== undefined ? { pageSize: o.deltaPageSize } : {}),
      ...(o.deltaTokenLifetime !== undefined ? { tokenLifetimeMs: o.deltaTokenLifetime * 1000 } : {}),
    },
  });
  const caFile = join(dir, 'graph-simulator-ca.pem');
  await writeFile(caFile, sim.ca, { mode: 0o644 });
  const lines = [
    `Simulated Graph tenant listening at ${sim.url}`,
    `  users ${o.users}, groups ${o.groups} (teams ${o.teams}), seed ${o.seed}`,
    `  CA certificate:  ${caFile}   (trust it: NODE_EXTRA_CA_CERTS=${caFile})`,
    `  tenant id:       ${sim.tenantId}`,
    `  client id:       ${o.clientId}`,
    `  client secret:   ${o.clientSecret}`,
  ];
  if (cert) {
    const certFile = join(dir, 'graph-simulator-app.pem');
    const keyFile = join(dir, 'graph-simulator-app.key');
    await writeFile(certFile, cert.certificatePem, { mode: 0o644 });
    await writeFile(keyFile, cert.privateKeyPem, { mode: 0o600 });
    lines.push(`  app certificate: ${certFile} (key ${keyFile}), thumbprint ${cert.thumbprint}`);
  }
  lines.push(
    'Tenant settings to use it:',
    `  --set 'Microsoft 365.tenant_id=${sim.tenantId}' --set 'Microsoft 365.client_id=${o.clientId}'`,
    `  --set 'Microsoft 365.client_secret=${o.clientSecret}'`,
    `  --set 'Microsoft 365.graph_base_url=${sim.url}' --set 'Microsoft 365.authority_host=${sim.authorityHost}'`,
    'Press Ctrl+C to stop.',
  );
  return { sim, lines };
}

export function graphSimulatorCommand(): Command {
  return new Command('graph')
    .description(
      'Run a simulated Microsoft Graph tenant (HTTPS, token endpoint included) over a generated data set',
    )
    .option('--users <n>', 'users', count, 1000)
    .option('--groups <n>', 'groups', count, 100)
    .option('--teams <n>', 'groups that have a team (within --groups)', count, 20)
    .option('--seed <n>', 'data set seed (same seed and sizes, same data)', count, 1)
    .option('--port <n>', 'port (0 picks a free one)', count, 8443)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--latency <ms>', 'extra time before each Graph response', count, 0)
    .option('--page-token-ttl <seconds>', 'next links older than this get Directory_ExpiredPageToken', count)
    .option('--delta-page-size <n>', 'delta page size in units (an object, or a member reference)', count)
    .option('--delta-token-lifetime <seconds>', 'delta tokens older than this get syncStateNotFound', count)
    .option('--client-id <guid>', 'app registration client id', randomUUID())
    .option(
      '--client-secret <secret>',
      'app registration client secret (default: random)',
      randomBytes(18).toString('base64url'),
    )
    .option('--certificate', 'also register a generated app certificate and write it with its key', false)
    .option(
      '--dir <path>',
      'where to write the CA certificate (and app certificate)',
      '.data/graph-simulator',
    )
    .action(async (o: SimulateGraphOptions) => {
      const { sim, lines } = await runGraphSimulator(o);
      for (const line of lines) console.log(line);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          done();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
    });
}
