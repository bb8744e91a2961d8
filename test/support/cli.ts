import { createCliContext } from '../../cli/commands/context.js';
import { runCli } from '../../cli/program.js';

/** Runs the real `m365sync` program in-process and captures what it prints. */
export async function cli(
  env: NodeJS.ProcessEnv,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    createCliContext({ out: (s) => out.push(s), err: (s) => err.push(s) }, env),
    argv,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}
