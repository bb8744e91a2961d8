/**
 * The tests' child processes, started one of two ways: the `m365sync` command line (`tsx cli/cli.ts`,
 * from the repository root, with exactly the given environment and PATH and HOME), or a TypeScript
 * file of a test's own (`node --import tsx <file>`); and the wait until a child says it is ready.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The repository root, ending in a slash. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** The real `m365sync` command line as a process, stdout and stderr piped, stdin closed. */
export function spawnCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(`${root}node_modules/.bin/tsx`, ['cli/cli.ts', ...argv], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * A TypeScript file run by Node.js itself (`node --import tsx`, what `npx tsx` runs), so that the
 * signals a test sends reach that process, not a wrapper around it.
 */
export function spawnTs(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], options);
}

/**
 * Resolves once the child has written `text` to `stream` (which must be piped); rejects with
 * "`what` did not start in N s" after `timeoutMs`, or "`what` exited early (code)" if it ends first.
 */
export function printed(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  text: string,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const source = child[stream]!;
  return new Promise((resolve, reject) => {
    let seen = '';
    const settle = (error?: Error) => {
      clearTimeout(timer);
      source.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) settle();
    };
    const onExit = (code: number | null) => settle(new Error(`${what} exited early (${code})`));
    const timer = setTimeout(
      () => settle(new Error(`${what} did not start in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    source.on('data', onData);
    child.once('exit', onExit);
  });
}
