/**
 * The `m365sync` command line, built as a function of its context so tests run the real program
 * in-process; cli/cli.ts is the process entry point.
 */
import { Command, CommanderError } from 'commander';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { SyncError, ValidationError, type FieldProblem } from '../domain/errors.js';
import { apiCommand } from './commands/api.js';
import { certificatesCommand } from './commands/certificates.js';
import type { CliContext } from './commands/context.js';
import { EXIT } from './commands/exit-codes.js';
import { logger } from '../observability/logger.js';
import { M365SYNC_VERSION } from '../observability/metrics.js';
import { isRedisUnavailable, redactRedisUrl, redisSettings } from '../queues/connection.js';
import { destinationsCommand } from './commands/destinations.js';
import { keysCommand } from './commands/keys.js';
import { tenantsCommand } from './commands/tenants.js';
import { tokensCommand } from './commands/tokens.js';
import { webhooksCommand } from './commands/webhooks.js';
import { kindsCommand, protectionCommand } from './commands/controls.js';
import { schedulerCommand, workerCommand } from './commands/processes.js';
import { queueCommand } from './commands/queue.js';
import { changesCommand } from './commands/changes.js';
import { simulateCommand } from './commands/simulate.js';
import { runsCommand, scheduleCommand, syncCommand, testConnectionCommand } from './commands/sync.js';

export { EXIT, exitForStatus, worstExit } from './commands/exit-codes.js';

const PLAIN_JSON = new WeakSet<Command>();

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('m365sync')
    .description('Keeps a copy of Microsoft 365 tenants in MongoDB')
    .version(M365SYNC_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => ctx.io.out(s.trimEnd()), writeErr: (s) => ctx.io.err(s.trimEnd()) })
    .exitOverride();
  // Before any command runs: the settings are parsed (a wrong variable stops it, named) and LOG_LEVEL
  // applies to the process-wide logger. `--help` and `--version` need neither.
  program.hook('preAction', () => {
    const level = ctx.settings.LOG_LEVEL;
    if (level) logger.level = level;
  });
  program.addCommand(tenantsCommand(ctx));
  program.addCommand(certificatesCommand(ctx));
  program.addCommand(destinationsCommand(ctx));
  program.addCommand(syncCommand(ctx));
  program.addCommand(runsCommand(ctx));
  program.addCommand(changesCommand(ctx));
  program.addCommand(testConnectionCommand(ctx));
  program.addCommand(scheduleCommand(ctx));
  program.addCommand(queueCommand(ctx));
  program.addCommand(workerCommand(ctx));
  program.addCommand(schedulerCommand(ctx));
  program.addCommand(apiCommand(ctx));
  program.addCommand(tokensCommand(ctx));
  program.addCommand(webhooksCommand(ctx));
  program.addCommand(simulateCommand(ctx));
  program.addCommand(protectionCommand(ctx));
  program.addCommand(kindsCommand(ctx));
  program.addCommand(keysCommand(ctx));
  for (const command of program.commands)
    applyToTree(command, (c) => c.exitOverride().configureOutput(program.configureOutput()));
  // Every command that prints takes --json. Those without a JSON shape of their own print their
  // messages as {"messages": [...]} (runCli collects them).
  applyToTree(program, (c) => {
    if (c === program || c.commands.length > 0 || c.options.some((o) => o.long === '--json')) return;
    c.option('--json', 'print JSON: {"messages": [...]}');
    PLAIN_JSON.add(c);
  });
  return program;
}

function applyToTree(command: Command, apply: (c: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToTree(sub, apply);
}

/** Runs the program on argv (without node and script) and returns the exit code; never throws. */
export async function runCli(ctx: CliContext, argv: string[]): Promise<number> {
  // With --json, stdout holds one JSON document whatever happens: the result, or the error as
  // {code, message, problems}; commander's own messages are turned into that shape too.
  const json = argv.includes('--json');
  const program = buildProgram(ctx);
  // With --json, what commander itself prints (the version, help) is kept and printed as one document.
  let printed = '';
  if (json)
    applyToTree(program, (c) =>
      c.showHelpAfterError(false).configureOutput({
        ...program.configureOutput(),
        writeOut: (s) => void (printed += s),
        writeErr: () => {},
      }),
    );
  const previous = process.exitCode;
  process.exitCode = undefined;
  const fail = (code: string, message: string, problems: FieldProblem[] = []) => {
    if (json) ctx.io.out(JSON.stringify({ code, message, problems }, null, 2));
    else if (code === 'INVALID_INPUT' && problems.length > 0) ctx.io.err(message);
    else ctx.io.err(`error (${code}): ${message}`);
  };
  const out = ctx.io.out;
  let messages: string[] | undefined;
  program.hook('preAction', (_program, action) => {
    if (!json || !PLAIN_JSON.has(action)) return;
    const collected: string[] = [];
    messages = collected;
    ctx.io.out = (text) => void collected.push(text);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    ctx.io.out = out;
    if (messages) out(JSON.stringify({ messages }, null, 2));
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    ctx.io.out = out;
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) {
        if (json)
          out(
            JSON.stringify(
              error.code === 'commander.version' ? { version: printed.trim() } : { help: printed.trimEnd() },
              null,
              2,
            ),
          );
        return EXIT.ok;
      }
      if (json) fail('INVALID_INPUT', error.message.replace(/^error: /, ''));
      return EXIT.invalid;
    }
    if (error instanceof ValidationError) {
      fail(error.code, error.message, error.problems);
      return EXIT.invalid;
    }
    if (error instanceof SyncError) {
      fail(error.code, error.message);
      return error.code === 'NOT_FOUND' ? EXIT.notFound : EXIT.failed;
    }
    const redis = redisError(error, ctx);
    if (redis) {
      fail(redis.code, redis.message);
      return EXIT.failed;
    }
    fail('INTERNAL', (error as Error).message);
    return EXIT.failed;
  } finally {
    process.exitCode = previous;
    await ctx
      .close()
      .catch(
        ignoreBecause(
          "the command's outcome is decided; the process ends its connections as it exits",
          logger,
        ),
      );
  }
}

/**
 * ioredis and BullMQ report an unreachable Redis as bare socket errors ("connect ECONNREFUSED …",
 * "Connection is closed", "Stream isn't writeable…"): say it the way MongoDB's is said.
 */
function redisError(error: unknown, ctx: Pick<CliContext, 'settings'>): SyncError | undefined {
  if (!isRedisUnavailable(error)) return undefined;
  const e = error as { code?: string; message: string };
  let where = 'REDIS_URL';
  try {
    where = redactRedisUrl(redisSettings(ctx.settings).url);
  } catch {
    // an invalid REDIS_URL is reported on its own
  }
  const auth = /NOAUTH|WRONGPASS/i.test(e.message);
  return new SyncError(
    'SERVICE_UNAVAILABLE',
    auth
      ? `Redis at ${where} refused the password: put the right one in REDIS_URL (redis://:<password>@host:port).`
      : `Redis does not answer at ${where} (${e.code ?? e.message}): start it (npm run services) or set REDIS_URL.`,
  );
}
