/**
 * The `m365sync` command line, built as a function of its context so tests run the real program
 * in-process; scripts/cli.ts is the process entry point.
 */
import { Command, CommanderError } from 'commander';
import { SyncError, ValidationError } from '../domain/errors.js';
import { apiCommand } from './commands/api.js';
import { certificatesCommand } from './commands/certificates.js';
import type { CliContext } from './commands/context.js';
import { tenantsCommand } from './commands/tenants.js';
import { tokensCommand } from './commands/tokens.js';
import { kindsCommand, protectionCommand } from './commands/controls.js';
import { schedulerCommand, workerCommand } from './commands/processes.js';
import { simulateCommand } from './commands/simulate.js';
import { runsCommand, scheduleCommand, syncCommand, testConnectionCommand } from './commands/sync.js';

/** Exit codes: 0 done, 1 failed, 2 bad input (nothing stored). */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('m365sync')
    .description('Keeps a copy of Microsoft 365 tenants in MongoDB')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => ctx.io.out(s.trimEnd()), writeErr: (s) => ctx.io.err(s.trimEnd()) })
    .exitOverride();
  program.addCommand(tenantsCommand(ctx));
  program.addCommand(certificatesCommand(ctx));
  program.addCommand(syncCommand(ctx));
  program.addCommand(runsCommand(ctx));
  program.addCommand(testConnectionCommand(ctx));
  program.addCommand(scheduleCommand(ctx));
  program.addCommand(workerCommand(ctx));
  program.addCommand(schedulerCommand(ctx));
  program.addCommand(apiCommand(ctx));
  program.addCommand(tokensCommand(ctx));
  program.addCommand(simulateCommand(ctx));
  program.addCommand(protectionCommand(ctx));
  program.addCommand(kindsCommand(ctx));
  for (const command of program.commands)
    applyToTree(command, (c) => c.exitOverride().configureOutput(program.configureOutput()));
  return program;
}

function applyToTree(command: Command, apply: (c: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToTree(sub, apply);
}

/** Runs the program on argv (without node and script) and returns the exit code; never throws. */
export async function runCli(ctx: CliContext, argv: string[]): Promise<number> {
  const program = buildProgram(ctx);
  const previous = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (error instanceof ValidationError) {
      ctx.io.err(error.message);
      return EXIT.invalid;
    }
    if (error instanceof SyncError) {
      ctx.io.err(`error (${error.code}): ${error.message}`);
      return EXIT.failed;
    }
    ctx.io.err(`error: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    process.exitCode = previous;
    await ctx.close();
  }
}
