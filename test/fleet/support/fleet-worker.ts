import { fileURLToPath } from 'node:url';
import { spawnTs } from '../../support/child-process.js';

/**
 * Runs one worker process of a fleet-limit test (a file of this folder, e.g. `shell-worker.ts`) with
 * only the given environment (besides PATH, HOME and NODE_ENV=test); resolves with the one JSON line
 * it prints, rejects with its stderr when it exits non-zero.
 */
export function runFleetWorker<T>(file: string, id: number, env: Record<string, string>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const proc = spawnTs(fileURLToPath(new URL(`./${file}`, import.meta.url)), [], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim()) as T)
        : reject(new Error(`worker ${id} exited ${code}: ${err}`)),
    );
  });
}
