import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { ValidationError } from '../../domain/errors.js';
import type { CliContext } from './context.js';
import { table } from './tenants.js';

async function readPem(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError('Certificate', [
      { field, message: `file ${path} cannot be read (${(error as NodeJS.ErrnoException).code})` },
    ]);
  }
}

export function certificatesCommand(ctx: CliContext): Command {
  const certificates = new Command('certificates').description(
    'stored certificates (data/Certificate) for Graph certificate authentication',
  );

  certificates
    .command('add')
    .argument('<name>', 'name tenants use in Microsoft 365.certificate_bkey')
    .requiredOption('--cert <file>', 'PEM certificate')
    .requiredOption('--key <file>', 'PEM private key (unencrypted; it is encrypted at rest)')
    .option('--hierarchy <place>', 'place in the customer hierarchy')
    .description('store a certificate and its private key; prints its SHA-1 thumbprint')
    .action(async (name: string, options) => {
      const { certificates: repo } = await ctx.stores();
      const info = await repo.add({
        name,
        hierarchy: options.hierarchy,
        certificatePem: await readPem(options.cert, 'certificatePem'),
        privateKeyPem: await readPem(options.key, 'privateKeyPem'),
      });
      ctx.io.out(
        `added certificate ${info.name}, thumbprint ${info.thumbprint}, valid to ${info.validTo.toISOString()}`,
      );
    });

  certificates
    .command('list')
    .option('--json', 'print JSON')
    .description('list stored certificates (never their keys)')
    .action(async (options) => {
      const { certificates: repo } = await ctx.stores();
      const list = await repo.list();
      if (options.json) ctx.io.out(JSON.stringify(list, null, 2));
      else if (list.length === 0) ctx.io.out('no certificates');
      else
        ctx.io.out(
          table(
            ['NAME', 'HIERARCHY', 'THUMBPRINT', 'VALID TO', 'SUBJECT'],
            list.map((c) => [
              c.name,
              c.hierarchy,
              c.thumbprint,
              c.validTo.toISOString(),
              c.subject.replace(/\n/g, ', '),
            ]),
          ),
        );
    });

  certificates
    .command('remove')
    .argument('<name>')
    .description('remove a stored certificate no tenant uses')
    .action(async (name: string) => {
      const { certificates: repo, tenants } = await ctx.stores();
      await repo.remove(name, (n) => tenants.usingCertificate(n));
      ctx.io.out(`removed certificate ${name}`);
    });

  return certificates;
}
