/**
 * `m365sync tokens create|list|revoke`: the operator API's tokens. `create` prints the token once;
 * only its SHA-256 is stored, so it can never be shown again (revoke it and make another).
 */
import { Command } from 'commander';
import { ROLES } from '../../domain/access.js';
import { operatorName, type CliContext } from './context.js';
import { table } from './tenants.js';

export function tokensCommand(ctx: CliContext): Command {
  const tokens = new Command('tokens').description(
    'operator API tokens: each with a name, a role and a hierarchy scope',
  );

  tokens
    .command('create')
    .description('make a token and print it, once')
    .requiredOption('--name <name>', 'who or what uses it (recorded on the runs it starts)')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .requiredOption('--scope <place>', "hierarchy place it may see (and everything under it), or '*' for all")
    .option('--json', 'print JSON')
    .action(async (options: { name: string; role: string; scope: string; json?: boolean }) => {
      const { tokens: store } = await ctx.stores();
      const created = await store.create(
        { name: options.name, role: options.role, scope: options.scope },
        operatorName(ctx),
      );
      if (options.json) return ctx.io.out(JSON.stringify(created, null, 2));
      ctx.io.out(`Token "${created.name}" (${created.role}, scope ${created.scope}, id ${created.id}):`);
      ctx.io.out(created.token);
      ctx.io.err('This is the only time the token is shown: keep it in a secret store now.');
    });

  tokens
    .command('list')
    .description('the tokens (never the tokens themselves)')
    .option('--all', 'include revoked tokens')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const { tokens: store } = await ctx.stores();
      const all = await store.list({ includeRevoked: options.all ?? false });
      if (options.json) return ctx.io.out(JSON.stringify(all, null, 2));
      ctx.io.out(
        table(
          ['NAME', 'ROLE', 'SCOPE', 'CREATED', 'BY', 'REVOKED', 'ID'],
          all.map((t) => [
            t.name,
            t.role,
            t.scope,
            t.createdAt.toISOString(),
            t.createdBy,
            t.revokedAt ? t.revokedAt.toISOString() : '',
            t.id,
          ]),
        ),
      );
    });

  tokens
    .command('revoke <token>')
    .description('revoke a token by name or id (at once: its next request is refused)')
    .action(async (ref: string) => {
      const { tokens: store } = await ctx.stores();
      const revoked = await store.revoke(ref, operatorName(ctx));
      ctx.io.out(`Revoked token "${revoked.name}" (${revoked.role}, scope ${revoked.scope}).`);
    });

  return tokens;
}
