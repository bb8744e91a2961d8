import { printable } from '../../domain/actor.js';
import { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import type { Tenant, TenantInput } from '../../domain/tenant.js';
import { TENANT_FIELDS, fieldPath } from '../../domain/tenant-fields.js';
import { operatorName, type CliContext } from './context.js';
import { applySetFlags, readStructuredFile } from './input.js';
import type { SyncRun } from '../../domain/sync-run.js';
import { ValidationError } from '../../domain/errors.js';
import { addTenant, purgeTenant, removeTenant, syncKinds, updateTenant } from '../../operations/index.js';

function purgedCount(run: SyncRun): number {
  return Object.values(run.kinds).reduce((n, r) => n + r.deleted, 0);
}

const collect = (value: string, previous: string[]) => [...previous, value];

async function inputFrom(options: {
  file?: string;
  set: string[];
  hierarchy?: string;
}): Promise<TenantInput> {
  const fromFile = options.file ? ((await readStructuredFile(options.file)) as TenantInput) : {};
  const input = applySetFlags(fromFile, options.set);
  if (options.hierarchy !== undefined) input.hierarchy = options.hierarchy;
  return input;
}

export function showTenant(tenant: Tenant, json: boolean): string {
  const { id, hierarchy, createdAt, updatedAt, ...groups } = tenant;
  const view = {
    id,
    hierarchy,
    ...groups,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
  return json ? JSON.stringify(view, null, 2) : toYaml(view).trimEnd();
}

export function tenantsCommand(ctx: CliContext): Command {
  const tenants = new Command('tenants').description(
    'Microsoft tenant connections (relation/MicrosoftTenant)',
  );
  const inputOptions = (c: Command) =>
    c
      .option('-f, --file <path>', 'JSON or YAML file of groups and fields')
      .option(
        '--set <Group.field=value>',
        'set one field (repeatable), e.g. --set "Microsoft 365.client_id=…"',
        collect,
        [],
      )
      .option('--hierarchy <place>', 'place in the customer hierarchy, e.g. provider.reseller.customer')
      .option('--json', 'print JSON');

  inputOptions(tenants.command('add').description('add a tenant')).action(async (options) => {
    const tenant = await addTenant({ stores: await ctx.stores() }, { tenant: await inputFrom(options) });
    ctx.io.out(
      options.json
        ? showTenant(tenant, true)
        : `added tenant ${tenant.hierarchy}/${tenant.Tenant.name} (id ${tenant.id})`,
    );
  });

  inputOptions(
    tenants
      .command('update')
      .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
      .description(
        'change fields of a tenant (fields not given keep their values; --set "Group.field=" clears one)',
      ),
  ).action(async (ref: string, options) => {
    const tenant = await updateTenant(
      { stores: await ctx.stores() },
      { ref, changes: await inputFrom(options) },
    );
    ctx.io.out(
      options.json ? showTenant(tenant, true) : `updated tenant ${tenant.hierarchy}/${tenant.Tenant.name}`,
    );
  });

  tenants
    .command('list')
    .description('list tenants, optionally at a hierarchy place and below')
    .option('--hierarchy <place>', 'only this place and below')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const { tenants: repo } = await ctx.readStores();
      const list = await repo.list({ hierarchy: options.hierarchy });
      if (options.json) {
        ctx.io.out(
          JSON.stringify(
            list.map((t) => JSON.parse(showTenant(t, true))),
            null,
            2,
          ),
        );
        return;
      }
      if (list.length === 0) {
        ctx.io.out('no tenants');
        return;
      }
      const rows = list.map((t) => [
        t.id,
        t.hierarchy,
        t.Tenant.name,
        t['Microsoft Teams Powershell'].hostName,
        t['Microsoft Exchange'].enable_exchange ? 'yes' : 'no',
      ]);
      ctx.io.out(table(['ID', 'HIERARCHY', 'NAME', 'POWERSHELL PROXY', 'EXCHANGE'], rows));
    });

  tenants
    .command('show')
    .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
    .description('show a tenant (passwords masked)')
    .option('--json', 'print JSON')
    .action(async (ref: string, options) => {
      const { tenants: repo } = await ctx.readStores();
      ctx.io.out(showTenant(await repo.show(ref), Boolean(options.json)));
    });

  tenants
    .command('remove')
    .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
    .description('remove a tenant connection; say what happens to its imported data (--purge or --keep-data)')
    .option('--purge', "also delete the tenant's imported objects (recorded as a purge run)")
    .option('--keep-data', "keep the tenant's imported objects in MongoDB")
    .option('--yes', 'confirm')
    .action(async (ref: string, options) => {
      const stores = await ctx.stores();
      const repo = stores.tenants;
      if (Boolean(options.purge) === Boolean(options.keepData)) {
        throw new ValidationError('tenants remove', [
          {
            field: '--purge',
            message:
              "say what happens to the tenant's imported objects: --purge deletes them, --keep-data keeps them (one of the two)",
          },
        ]);
      }
      const tenant = await repo.show(ref);
      if (!options.yes) {
        ctx.io.err(
          `This removes tenant ${tenant.hierarchy}/${tenant.Tenant.name}${options.purge ? ' and deletes its imported objects' : ' (its imported objects stay)'}. Run again with --yes to confirm.`,
        );
        process.exitCode = 1;
        return;
      }
      const { removed, purge } = await removeTenant(
        { stores },
        { ref: tenant.id, data: options.purge ? 'purge' : 'keep', by: operatorName(ctx) },
      );
      if (purge) ctx.io.out(`purged ${purgedCount(purge)} object(s) (run ${purge.id})`);
      ctx.io.out(`removed tenant ${removed.hierarchy}/${removed.Tenant.name}`);
    });

  tenants
    .command('purge')
    .argument('<tenant>', 'id, <hierarchy>/<name>, or name')
    .description("delete a tenant's imported objects (all kinds, or --kinds), recorded as a purge run")
    .option('--kinds <kinds>', 'only these kinds or kind lists')
    .option('--yes', 'confirm')
    .action(async (ref: string, options) => {
      const stores = await ctx.stores();
      const tenant = await stores.tenants.show(ref);
      const kinds = await syncKinds({ stores }, options.kinds);
      if (!options.yes) {
        ctx.io.err(
          `This deletes the imported ${kinds ? kinds.join(', ') : 'objects of every kind'} of tenant ${tenant.hierarchy}/${tenant.Tenant.name}. Run again with --yes to confirm.`,
        );
        process.exitCode = 1;
        return;
      }
      const run = await purgeTenant(
        { stores },
        {
          tenant,
          requestedBy: operatorName(ctx),
          ...(kinds ? { kinds } : {}),
        },
      );
      for (const [kind, r] of Object.entries(run.kinds))
        if (r.deleted > 0) ctx.io.out(`deleted ${r.deleted} ${kind}`);
      ctx.io.out(
        `purged ${purgedCount(run)} object(s) of tenant ${tenant.hierarchy}/${tenant.Tenant.name} (run ${run.id})`,
      );
    });

  tenants
    .command('fields')
    .description('list the fields of the tenant model with their rules')
    .action(() => {
      const rows = TENANT_FIELDS.map((f) => [
        fieldPath(f),
        f.type + (f.values ? ` (${f.values.join('|')})` : ''),
        f.required ? 'yes' : '',
        f.default === undefined ? '' : String(f.default),
        [f.password ? 'password' : '', f.encrypted ? 'encrypted' : ''].filter(Boolean).join(', '),
        f.description,
      ]);
      ctx.io.out(table(['FIELD', 'TYPE', 'REQUIRED', 'DEFAULT', 'SECRET', 'DESCRIPTION'], rows));
    });

  tenants
    .command('reencrypt')
    .description(
      "re-encrypt every secret at rest still under an older key (tenants' secrets, certificates' private keys, webhook secrets) with the active key",
    )
    .action(async () => {
      const stores = await ctx.stores();
      const { tenants: repo, certificates, webhooks: subscriptions, keyRing } = stores;
      // Re-encrypting is the explicit step of a rotation: the new key enters the key canary here,
      // once a key the database already has has been proved.
      if (await stores.addActiveKey())
        ctx.io.out(`added key "${keyRing.activeKeyId}" to this database's keys`);
      const tenants = await repo.reencryptAll();
      const certs = await certificates.reencryptAll();
      const webhooks = await subscriptions.reencryptAll();
      const key = `key "${keyRing.activeKeyId}"`;
      for (const t of tenants.reencrypted) ctx.io.out(`re-encrypted tenant ${t}`);
      for (const c of certs) ctx.io.out(`re-encrypted certificate ${c}`);
      for (const w of webhooks) ctx.io.out(`re-encrypted webhook ${w}`);
      for (const t of tenants.proxyCredentialsMoved)
        ctx.io.out(`moved the proxy user and password of tenant ${t} out of its proxy URL`);
      ctx.io.out(
        `re-encrypted ${tenants.reencrypted.length} tenant(s), ${certs.length} certificate private key(s) and ${webhooks.length} webhook secret(s) with ${key}; ` +
          `everything at rest is now under ${key}`,
      );
    });

  return tenants;
}

/** Rows of text in aligned columns; each cell's control characters are shown as escapes (`\x1B`). */
export function table(header: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map((cell) => printable(cell)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
