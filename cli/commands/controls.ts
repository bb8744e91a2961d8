/**
 * Sync controls on the command line: mass-delete protection thresholds (`m365sync protection`) and
 * operator-defined kind lists (`m365sync kinds`).
 */
import { Command } from 'commander';
import type { ProtectionLevel } from '../../connectors/mongo/index.js';
import {
  DELETE_PROTECTION_SOURCES,
  describeDeleteThreshold,
  resolveDeleteThreshold,
  type DeleteThreshold,
} from '../../domain/delete-protection.js';
import type { EntitySource } from '../../domain/entity-kinds.js';
import { ValidationError } from '../../domain/errors.js';
import { BUILT_IN_KIND_LISTS } from '../../domain/kind-lists.js';
import { operatorName, type CliContext } from './context.js';
import { table } from './tenants.js';

function sourceOf(value: string | undefined, required: boolean): EntitySource | undefined {
  if (value === undefined && !required) return undefined;
  if (!(DELETE_PROTECTION_SOURCES as readonly string[]).includes(value ?? '')) {
    throw new ValidationError('protection', [
      { field: '--source', message: `must be one of ${DELETE_PROTECTION_SOURCES.join(', ')}` },
    ]);
  }
  return value as EntitySource;
}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new ValidationError('protection', [{ field: name, message: `must be a number, not "${value}"` }]);
  return n;
}

export function protectionCommand(ctx: CliContext): Command {
  const protection = new Command('protection').description(
    'mass-delete protection: how many objects one sweep may delete (global, per hierarchy place, per tenant)',
  );
  const level = async (options: { tenant?: string; hierarchy?: string }): Promise<ProtectionLevel> => {
    if (options.tenant && options.hierarchy)
      throw new ValidationError('protection', [
        { field: '--tenant', message: 'give --tenant or --hierarchy, not both' },
      ]);
    if (options.tenant) {
      const { tenants } = await ctx.stores();
      return { tenantId: (await tenants.show(options.tenant)).id };
    }
    if (options.hierarchy) return { hierarchy: options.hierarchy };
    return { global: true };
  };
  const store = async () => (await ctx.stores()).deleteProtection;

  protection
    .command('show')
    .description('the stored settings, or with --tenant the threshold that applies to it per source')
    .option('--tenant <tenant>', 'resolve for this tenant')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const settings = await (await store()).settings();
      if (options.tenant) {
        const { tenants } = await ctx.stores();
        const tenant = await tenants.show(options.tenant);
        const resolved = DELETE_PROTECTION_SOURCES.map((source) => ({
          source,
          ...resolveDeleteThreshold(settings, { source, hierarchy: tenant.hierarchy, tenantId: tenant.id }),
        }));
        if (options.json) return ctx.io.out(JSON.stringify(resolved, null, 2));
        return ctx.io.out(
          table(
            ['SOURCE', 'THRESHOLD'],
            resolved.map((r) => [r.source, describeDeleteThreshold(r)]),
          ),
        );
      }
      if (options.json) return ctx.io.out(JSON.stringify(settings, null, 2));
      const rows: string[][] = [];
      const add = (scope: string, sources: Partial<Record<EntitySource, DeleteThreshold>> | undefined) => {
        for (const [source, t] of Object.entries(sources ?? {}))
          rows.push([scope, source, describeDeleteThreshold(t)]);
      };
      add('global', settings.global);
      for (const [place, s] of Object.entries(settings.hierarchy ?? {})) add(`hierarchy:${place}`, s);
      for (const [id, s] of Object.entries(settings.tenants ?? {})) add(`tenant:${id}`, s);
      ctx.io.out(
        rows.length === 0
          ? 'no settings: every source uses the default (10 objects or 5 %, whichever is larger)'
          : table(['SCOPE', 'SOURCE', 'THRESHOLD'], rows),
      );
    });

  protection
    .command('set')
    .description("set a threshold (count and/or percent replace the level's pair for the source)")
    .requiredOption('--source <source>', DELETE_PROTECTION_SOURCES.join(', '))
    .option('--tenant <tenant>', 'for this tenant')
    .option('--hierarchy <place>', 'for this hierarchy place and below')
    .option('--count <n>', 'objects one sweep may delete')
    .option('--percent <p>', "percentage of the kind's stored objects (100: off)")
    .action(async (options) => {
      const source = sourceOf(options.source, true)!;
      const threshold: DeleteThreshold = {};
      const count = numberOption(options.count, '--count');
      const percent = numberOption(options.percent, '--percent');
      if (count !== undefined) threshold.count = count;
      if (percent !== undefined) threshold.percent = percent;
      const at = await level(options);
      await (await store()).set(at, source, threshold, operatorName(ctx));
      ctx.io.out(`${source}: ${describeDeleteThreshold(threshold)} at ${scopeName(at)}`);
    });

  protection
    .command('clear')
    .description("remove a level's setting (one source, or all with no --source)")
    .option('--source <source>', DELETE_PROTECTION_SOURCES.join(', '))
    .option('--tenant <tenant>', 'for this tenant')
    .option('--hierarchy <place>', 'for this hierarchy place')
    .action(async (options) => {
      const source = sourceOf(options.source, false);
      const at = await level(options);
      const cleared = await (await store()).clear(at, source);
      ctx.io.out(
        cleared
          ? `cleared ${source ?? 'every source'} at ${scopeName(at)}`
          : `nothing set at ${scopeName(at)}`,
      );
    });
  return protection;
}

function scopeName(level: ProtectionLevel): string {
  if ('tenantId' in level) return `tenant:${level.tenantId}`;
  if ('hierarchy' in level) return `hierarchy:${level.hierarchy}`;
  return 'global';
}

export function kindsCommand(ctx: CliContext): Command {
  const kinds = new Command('kinds').description(
    'kind lists: built-in and your own (for sync --kinds and schedules)',
  );
  const lists = async () => (await ctx.stores()).kindLists;
  kinds
    .command('list')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const custom = await (await lists()).list();
      const builtIn = Object.entries(BUILT_IN_KIND_LISTS).map(([name, k]) => ({
        name,
        kinds: [...k],
        builtIn: true,
      }));
      const all = [...builtIn, ...custom.map((l) => ({ ...l, builtIn: false }))];
      if (options.json) return ctx.io.out(JSON.stringify(all, null, 2));
      ctx.io.out(
        table(
          ['LIST', 'KINDS', 'BUILT-IN'],
          all.map((l) => [l.name, l.kinds.join(','), l.builtIn ? 'yes' : '']),
        ),
      );
    });
  kinds
    .command('set')
    .argument('<name>', 'list name: lower-case letters, digits, - or _')
    .argument('<kinds>', 'kinds or built-in lists, e.g. users,licences or licensing,mailboxes')
    .option('--description <text>', 'what the list is for')
    .action(async (name: string, spec: string, options) => {
      const list = await (
        await lists()
      ).set(
        { name, kinds: spec, ...(options.description ? { description: options.description } : {}) },
        operatorName(ctx),
      );
      ctx.io.out(`${list.name}: ${list.kinds.join(',')}`);
    });
  kinds
    .command('remove')
    .argument('<name>')
    .action(async (name: string) => {
      await (await lists()).remove(name);
      ctx.io.out(`removed kind list ${name}`);
    });
  return kinds;
}
