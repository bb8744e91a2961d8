/**
 * The `_FILE` variants of the secret settings (connectors/secret-files.ts), over real files in a
 * temporary folder: a secret read from its file (trailing line break dropped), both forms refused,
 * an unreadable, empty or oversized file refused naming the variable and the path, never the content;
 * and the CLI's settings (every process's entry point) read them.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCliContext } from '../../cli/commands/context.js';
import { readSecretFiles } from '../../connectors/secret-files.js';
import { ValidationError } from '../../domain/errors.js';
import { SECRET_SETTINGS, SETTING_NAMES, secretFileVariable } from '../../domain/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'm365sync-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** The ValidationError `fn` throws. */
function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('secrets read from files', () => {
  it('has a _FILE variant of every secret setting, in the schema (so in the README table)', () => {
    for (const name of SECRET_SETTINGS) expect(SETTING_NAMES).toContain(secretFileVariable(name));
  });

  it('reads each secret from its file, dropping the trailing line break only', () => {
    const redis = 'redis://:p%40ss word@cache:6379';
    const env = readSecretFiles({
      REDIS_URL_FILE: secretFile('redis-url', `${redis}\n`),
      MONGODB_URI_FILE: secretFile('mongo-uri', 'mongodb://u:pw@db:27017/?authSource=admin\r\n'),
      M365SYNC_API_TOKEN_FILE: secretFile('token', `  ${'t'.repeat(40)}  \n\n`),
      M365SYNC_ENCRYPTION_KEYS: 'k1:inline',
      LOG_LEVEL: 'warn',
    });
    expect(env.REDIS_URL).toBe(redis);
    expect(env.MONGODB_URI).toBe('mongodb://u:pw@db:27017/?authSource=admin');
    // Only line breaks at the end go: spaces are part of what the operator wrote.
    expect(env.M365SYNC_API_TOKEN).toBe(`  ${'t'.repeat(40)}  `);
    expect(env.M365SYNC_ENCRYPTION_KEYS).toBe('k1:inline');
    expect(env.LOG_LEVEL).toBe('warn');
    // A blank _FILE is unset, as an empty variable is.
    expect(readSecretFiles({ REDIS_URL_FILE: '', REDIS_URL: 'redis://h:1' }).REDIS_URL).toBe('redis://h:1');
  });

  it('refuses a secret given both ways, naming both and neither value', () => {
    const error = refusal(() =>
      readSecretFiles({
        M365SYNC_ENCRYPTION_KEYS: 'k1:inline-secret-value',
        M365SYNC_ENCRYPTION_KEYS_FILE: secretFile('keys', 'k1:file-secret-value\n'),
      }),
    );
    expect(error.problems).toEqual([
      {
        field: 'M365SYNC_ENCRYPTION_KEYS_FILE',
        message:
          'set either M365SYNC_ENCRYPTION_KEYS or M365SYNC_ENCRYPTION_KEYS_FILE (a file holding it), not both',
      },
    ]);
    expect(error.message).not.toMatch(/secret-value/);
  });

  it('refuses a missing, unreadable, empty or oversized file, naming the variable and the path, never the content', () => {
    const missing = join(dir, 'no-such-file');
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const empty = secretFile('empty', '\n');
    const big = secretFile('big', `redis://:${'x'.repeat(70 * 1024)}-hidden@h:1`);
    const error = refusal(() =>
      readSecretFiles({
        REDIS_URL_FILE: big,
        MONGODB_URI_FILE: missing,
        M365SYNC_API_TOKEN_FILE: folder,
        M365SYNC_SIM_PROXY_PASSWORD_FILE: empty,
      }),
    );
    expect(error.problems).toEqual([
      {
        field: 'REDIS_URL_FILE',
        message: `the file ${big} is larger than 64 KiB: not a file holding REDIS_URL`,
      },
      { field: 'MONGODB_URI_FILE', message: `cannot read MONGODB_URI from the file ${missing} (ENOENT)` },
      {
        field: 'M365SYNC_API_TOKEN_FILE',
        message: `cannot read M365SYNC_API_TOKEN from the file ${folder} (EISDIR)`,
      },
      {
        field: 'M365SYNC_SIM_PROXY_PASSWORD_FILE',
        message: `the file ${empty} is empty: it should hold M365SYNC_SIM_PROXY_PASSWORD`,
      },
    ]);
    expect(error.message).not.toContain('hidden');
  });

  it("gives the CLI's processes (api, worker, scheduler) their secrets from files", () => {
    const io = { out: () => {}, err: () => {} };
    const token = 'f'.repeat(40);
    const ctx = createCliContext(io, {
      M365SYNC_API_TOKEN_FILE: secretFile('api-token', `${token}\n`),
      REDIS_URL_FILE: secretFile('redis', 'redis://:pw@cache:6380\n'),
    });
    expect(ctx.settings.M365SYNC_API_TOKEN).toBe(token);
    expect(ctx.settings.REDIS_URL).toBe('redis://:pw@cache:6380');
    const both = createCliContext(io, {
      M365SYNC_API_TOKEN: token,
      M365SYNC_API_TOKEN_FILE: secretFile('api-token-2', `${token}\n`),
    });
    expect(() => both.settings).toThrow(/M365SYNC_API_TOKEN or M365SYNC_API_TOKEN_FILE/);
  });
});
