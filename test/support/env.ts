import { readFileSync } from 'node:fs';

/** Where the suite finds its services: the environment, else what scripts/services.sh wrote, else the defaults. */
export function testEnv(): {
  redisUrl: string;
  mongoUri: string;
  mongoBackend: string;
  /** A second MongoDB-wire server on the other FerretDB backend, for the store's own tests. */
  mongoUriAlt?: string;
  mongoBackendAlt: string;
} {
  let written: Record<string, string> = {};
  try {
    written = Object.fromEntries(
      readFileSync(new URL('../../.data/services.env', import.meta.url), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    // services.sh has not run: defaults below
  }
  const mongoUriAlt = process.env.MONGODB_URI_ALT ?? written.MONGODB_URI_ALT;
  return {
    redisUrl: process.env.REDIS_URL ?? written.REDIS_URL ?? 'redis://127.0.0.1:6379',
    mongoUri: process.env.MONGODB_URI ?? written.MONGODB_URI ?? 'mongodb://127.0.0.1:27017',
    mongoBackend: process.env.MONGODB_BACKEND ?? written.MONGODB_BACKEND ?? 'the suite server',
    ...(mongoUriAlt ? { mongoUriAlt } : {}),
    mongoBackendAlt: process.env.MONGODB_BACKEND_ALT ?? written.MONGODB_BACKEND_ALT ?? 'the second server',
  };
}
