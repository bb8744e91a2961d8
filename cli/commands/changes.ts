/**
 * `m365sync changes <tenant> [--after <cursor>|--run <id>] [--kinds …] [--ops …] [--follow] [--json]`:
 * what the tenant's runs created, updated and deleted (operations/list-changes.ts). Prints every
 * committed change after the cursor and the cursor to go on from; `--follow` then keeps polling.
 * Progress and the cursor to resume from go to stderr; with `--json`, stdout holds one JSON document
 * `{tenantId, changes, cursor}` (with `--follow`: one JSON document per line, one per change).
 */
import { Command, Option } from 'commander';
import type { Change } from '../../domain/changes.js';
import { ValidationError } from '../../domain/errors.js';
import { listChanges } from '../../operations/index.js';
import type { CliContext } from './context.js';
import { durationOption } from './duration.js';
import { table } from './tenants.js';

const PAGE = 500;

export function changesCommand(ctx: CliContext): Command {
  return new Command('changes')
    .description('what a tenant’s runs created, updated and deleted (the change feed), oldest first')
    .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
    .option('--after <cursor>', 'only changes after this cursor (printed by an earlier call)')
    .option('--run <id>', 'only the changes of this run')
    .option('--kinds <kinds>', 'comma-separated kinds, e.g. users,groups')
    .option('--ops <ops>', 'comma-separated operations: created, updated, deleted, baseline')
    .option('--follow', 'keep polling for new changes until interrupted')
    .addOption(
      new Option('--interval <duration>', 'with --follow: how often to poll, e.g. 5s')
        .argParser(durationOption(1000, 3_600_000))
        .default(5000),
    )
    .option(
      '--json',
      'print JSON: one document {tenantId, changes, cursor} (with --follow: one change per line)',
    )
    .action(async (ref: string, options) => {
      if (options.after && options.run)
        throw new ValidationError('changes', [
          { field: 'after', message: 'give --after or --run, not both' },
        ]);
      const stores = await ctx.readStores();
      const read = (after: string | undefined) =>
        listChanges(
          { stores },
          {
            tenant: ref,
            ...(after ? { after } : {}),
            ...(options.run ? { runId: options.run as string } : {}),
            ...(options.kinds ? { kinds: options.kinds as string } : {}),
            ...(options.ops ? { ops: options.ops as string } : {}),
            limit: PAGE,
          },
        );
      const print = (changes: Change[]) => {
        if (options.json && options.follow) for (const change of changes) ctx.io.out(JSON.stringify(change));
        else if (!options.json && changes.length > 0)
          ctx.io.out(
            table(
              ['CURSOR', 'RUN', 'KIND', 'OP', 'ID', 'FIELDS', 'AT'],
              changes.map((c) => [
                c.cursor,
                c.runId,
                c.kind,
                c.op,
                c.externalId ?? '-',
                (c.fields ?? []).join(','),
                c.at,
              ]),
            ),
          );
      };
      let cursor = options.after as string | undefined;
      const all: Change[] = [];
      let tenantId = '';
      for (;;) {
        const page = await read(cursor);
        tenantId = page.tenantId;
        cursor = page.cursor;
        if (options.json && !options.follow) all.push(...page.changes);
        else print(page.changes);
        if (page.more) continue;
        if (!options.follow) break;
        ctx.io.err(`changes: up to date at ${cursor}; polling every ${options.interval / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, options.interval as number));
      }
      if (options.json) ctx.io.out(JSON.stringify({ tenantId, changes: all, cursor }, null, 2));
      else ctx.io.err(`changes: to read on, m365sync changes ${ref} --after ${cursor}`);
    });
}
