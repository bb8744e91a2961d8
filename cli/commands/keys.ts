/**
 * `m365sync keys add`: the explicit step by which a new encryption key enters the key canary. Run
 * with M365SYNC_ENCRYPTION_KEYS listing the new key first and a key the database already has after
 * it: that key is proved against its canary before the new one is recorded. Until then no process
 * encrypts with the new key (connectors/mongo/key-canary.ts).
 */
import { Command } from 'commander';
import type { CliContext } from './context.js';

export function keysCommand(ctx: CliContext): Command {
  const keys = new Command('keys').description(
    'the encryption keys this database knows (M365SYNC_ENCRYPTION_KEYS)',
  );

  keys
    .command('add')
    .description(
      'record the first key of M365SYNC_ENCRYPTION_KEYS as one of this database, after proving a key it already has (listed after the new one)',
    )
    .action(async () => {
      const stores = await ctx.stores();
      const id = stores.keyRing.activeKeyId;
      if (await stores.addActiveKey())
        ctx.io.out(
          `added key "${id}": new secrets are encrypted with it; run m365sync tenants reencrypt to move the rest`,
        );
      else ctx.io.out(`key "${id}" is already one of this database's keys: nothing changed`);
    });

  return keys;
}
