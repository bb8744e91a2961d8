/**
 * `m365sync webhooks add|list|remove|deliveries`: subscriptions that tell a receiver (an operator's
 * portal) when sync runs end. `add` prints the signing secret once; it is stored encrypted and never
 * shown again (remove the subscription and add another to change it).
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { ValidationError } from '../../domain/errors.js';
import { WEBHOOK_STATUSES } from '../../domain/webhooks.js';
import { operatorName, type CliContext } from './context.js';
import { wholeNumber } from './sync.js';
import { table } from './tenants.js';

/** A secret from a file (one line; its line ending is not part of it). Never echoed. */
async function secretFrom(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new ValidationError('webhooks add', [
      { field: '--secret-file', message: `cannot be read (${(error as NodeJS.ErrnoException).code})` },
    ]);
  }
}

export function webhooksCommand(ctx: CliContext): Command {
  const webhooks = new Command('webhooks').description(
    'tell a receiver (an operator portal) when sync runs end: signed JSON POSTs, retried, logged',
  );

  webhooks
    .command('add')
    .description('subscribe a receiver and print its signing secret, once')
    .requiredOption('--name <name>', 'what the subscription is called')
    .requiredOption(
      '--url <url>',
      'the receiver (its host must be allowed: m365sync destinations allow webhook …)',
    )
    .option(
      '--scope <place>',
      "the tenants it hears of: a hierarchy place and everything under it, or '*'",
      '*',
    )
    .option('--status <statuses>', `the run ends it hears of (default all: ${WEBHOOK_STATUSES.join(',')})`)
    .option('--description <text>', 'what it is for')
    .option(
      '--secret-file <path>',
      'read the signing secret from this file, e.g. /dev/stdin (default: generate one)',
    )
    .option('--json', 'print JSON')
    .action(
      async (options: {
        name: string;
        url: string;
        scope: string;
        status?: string;
        description?: string;
        secretFile?: string;
        json?: boolean;
      }) => {
        const secret = options.secretFile === undefined ? undefined : await secretFrom(options.secretFile);
        const created = await (
          await ctx.stores()
        ).webhooks.create(
          {
            name: options.name,
            url: options.url,
            scope: options.scope,
            ...(options.status !== undefined
              ? { statuses: options.status.split(',').map((s) => s.trim()) }
              : {}),
            ...(options.description !== undefined ? { description: options.description } : {}),
            ...(secret !== undefined ? { secret } : {}),
          },
          operatorName(ctx),
        );
        if (options.json) return ctx.io.out(JSON.stringify(created, null, 2));
        ctx.io.out(
          `Webhook "${created.name}" (id ${created.id}, scope ${created.scope}, on ${created.statuses.join(', ')}) → ${created.url}`,
        );
        if (!created.secret) return ctx.io.out('It signs with the secret you gave.');
        ctx.io.out(`Signing secret: ${created.secret}`);
        ctx.io.err('This is the only time the secret is shown: give it to the receiver now.');
      },
    );

  webhooks
    .command('list')
    .description('the subscriptions (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const all = await (await ctx.readStores()).webhooks.list();
      if (options.json) return ctx.io.out(JSON.stringify(all, null, 2));
      if (all.length === 0) return ctx.io.out('no webhooks');
      ctx.io.out(
        table(
          ['NAME', 'URL', 'SCOPE', 'STATUSES', 'CREATED', 'BY', 'ID'],
          all.map((w) => [
            w.name,
            w.url,
            w.scope,
            w.statuses.join(','),
            w.createdAt.toISOString(),
            w.createdBy,
            w.id,
          ]),
        ),
      );
    });

  webhooks
    .command('remove <webhook>')
    .description('remove a subscription by name or id (deliveries still queued for it are dropped)')
    .action(async (ref: string) => {
      const removed = await (await ctx.readStores()).webhooks.remove(ref);
      ctx.io.out(`Removed webhook "${removed.name}" (${removed.url}).`);
    });

  webhooks
    .command('deliveries <webhook>')
    .description("a subscription's delivery attempts, newest first")
    .option('--run <id>', 'only those of one run')
    .option('--limit <n>', 'how many (1 to 500)', wholeNumber(1, 500), 50)
    .option('--json', 'print JSON')
    .action(async (ref: string, options: { run?: string; limit: number; json?: boolean }) => {
      if (options.run !== undefined && !/^[0-9a-f]{24}$/.test(options.run))
        throw new ValidationError('webhooks deliveries', [
          { field: '--run', message: 'must be a run id (24 hex digits)' },
        ]);
      const stores = await ctx.readStores();
      const webhook = await stores.webhooks.get(ref);
      const attempts = await stores.webhookDeliveries.list({
        subscriptionId: webhook.id,
        ...(options.run ? { runId: options.run } : {}),
        limit: options.limit,
      });
      if (options.json) return ctx.io.out(JSON.stringify(attempts, null, 2));
      if (attempts.length === 0) return ctx.io.out(`no deliveries for webhook "${webhook.name}" yet`);
      ctx.io.out(
        table(
          ['AT', 'RUN', 'ATTEMPT', 'OUTCOME', 'ANSWER', 'TIME', 'RESPONSE'],
          attempts.map((a) => [
            a.at.toISOString(),
            a.runId,
            String(a.attempt),
            a.outcome,
            a.statusCode !== undefined ? `HTTP ${a.statusCode}` : `${a.error?.code}: ${a.error?.message}`,
            `${a.durationMs} ms`,
            a.response ?? '',
          ]),
        ),
      );
    });

  return webhooks;
}
