import { createCliContext } from '../../cli/commands/context.js';
import { runCli } from '../../cli/program.js';
import { spawnCli } from './child-process.js';

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

/**
 * Runs the real `m365sync` as its own process (tsx cli/cli.ts) with exactly `env` (and PATH, HOME):
 * what it writes to stdout and to stderr, apart, and its exit code.
 */
export function cliProcess(
  env: NodeJS.ProcessEnv,
  ...argv: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(argv, env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
