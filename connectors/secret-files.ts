/**
 * The `_FILE` variants of the secret settings: `REDIS_URL_FILE=/run/secrets/redis-url` reads
 * REDIS_URL from that file, as Kubernetes and Docker mount secrets (files, not variables, which
 * `docker inspect`, /proc/<pid>/environ and crash reports would show).
 *
 * Run by an entry point on its environment before `parseSettings` (domain/ stays free of I/O). The
 * file's trailing line break is dropped (`echo … >file` and most secret tools add one); anything else
 * is the value as written. Setting both a variable and its `_FILE` is refused, naming both; a file
 * that cannot be read, or is empty, is refused naming the variable and the path. No error ever holds a
 * file's content.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../domain/errors.js';
import { SECRET_SETTINGS, secretFileVariable } from '../domain/settings.js';

/** Larger than any key ring, token or URL: a bigger file is the wrong file. */
const MAX_SECRET_BYTES = 64 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/** The environment with each secret whose `_FILE` is set read from that file. */
export function readSecretFiles(env: Env, read: (path: string) => Buffer = readFileSync): Env {
  const resolved: Record<string, string | undefined> = { ...env };
  const problems: { field: string; message: string }[] = [];
  for (const name of SECRET_SETTINGS) {
    const fileVariable = secretFileVariable(name);
    const path = env[fileVariable];
    if (path === undefined || path.trim() === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push({
        field: fileVariable,
        message: `set either ${name} or ${fileVariable} (a file holding it), not both`,
      });
      continue;
    }
    let content: Buffer;
    try {
      content = read(path);
    } catch (error) {
      // The system's code and the path only: a message of another reader could quote content.
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push({ field: fileVariable, message: `cannot read ${name} from the file ${path} (${code})` });
      continue;
    }
    if (content.length > MAX_SECRET_BYTES) {
      problems.push({
        field: fileVariable,
        message: `the file ${path} is larger than ${MAX_SECRET_BYTES / 1024} KiB: not a file holding ${name}`,
      });
      continue;
    }
    const value = content.toString('utf8').replace(/(\r?\n)+$/, '');
    if (value === '') {
      problems.push({ field: fileVariable, message: `the file ${path} is empty: it should hold ${name}` });
      continue;
    }
    resolved[name] = value;
  }
  if (problems.length > 0) throw new ValidationError('Configuration', problems);
  return resolved;
}
