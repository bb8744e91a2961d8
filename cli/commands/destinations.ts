import { Command } from 'commander';
import {
  DESTINATION_KINDS,
  DESTINATION_KIND_MEANING,
  type DestinationKind,
} from '../../domain/destinations.js';
import { ValidationError } from '../../domain/errors.js';
import type { CliContext } from './context.js';
import { table } from './tenants.js';

const KINDS_HELP = DESTINATION_KINDS.map((k) => `${k}: ${DESTINATION_KIND_MEANING[k]}`).join('; ');

export function destinationsCommand(ctx: CliContext): Command {
  const destinations = new Command('destinations').description(
    `where tenants may send requests, beyond the national clouds (kinds: ${KINDS_HELP})`,
  );

  destinations
    .command('allow')
    .argument('<kind>', DESTINATION_KINDS.join(' | '))
    .argument('<entry>', 'a host name, an IP address (either with an optional :port) or a CIDR range')
    .option('--note <text>', 'why it is allowed')
    .description('allow a destination')
    .action(async (kind: string, entry: string, options: { note?: string }) => {
      const { destinations: list } = await ctx.stores();
      const added = await list.allow(kind, entry, options.note);
      ctx.io.out(`allowed ${added.kind} ${added.entry}`);
    });

  destinations
    .command('list')
    .option('--kind <kind>', DESTINATION_KINDS.join(' | '))
    .option('--json', 'print JSON')
    .description('list allowed destinations')
    .action(async (options: { kind?: string; json?: boolean }) => {
      if (options.kind !== undefined && !(DESTINATION_KINDS as readonly string[]).includes(options.kind))
        throw new ValidationError('destinations list', [
          { field: '--kind', message: `must be one of ${DESTINATION_KINDS.join(', ')}` },
        ]);
      const { destinations: list } = await ctx.stores();
      const entries = await list.list(options.kind as DestinationKind | undefined);
      if (options.json) ctx.io.out(JSON.stringify(entries, null, 2));
      else if (entries.length === 0) ctx.io.out('no allowed destinations (only the national clouds)');
      else
        ctx.io.out(
          table(
            ['KIND', 'ENTRY', 'NOTE'],
            entries.map((e) => [e.kind, e.entry, e.note ?? '']),
          ),
        );
    });

  destinations
    .command('remove')
    .argument('<kind>', DESTINATION_KINDS.join(' | '))
    .argument('<entry>')
    .description('remove an allowed destination (tenants that name it are refused before connecting)')
    .action(async (kind: string, entry: string) => {
      const { destinations: list } = await ctx.stores();
      await list.remove(kind, entry);
      ctx.io.out(`removed ${kind} ${entry}`);
    });

  return destinations;
}
