import { pino, type DestinationStream, type Logger } from 'pino';
import { PASSWORD_FIELDS } from '../domain/tenant-fields.js';

/**
 * Property names whose values never reach a log line, wherever they sit in a logged object:
 * the tenant's password fields, and the usual names of credentials on the wire.
 */
const SECRET_KEYS = [
  ...PASSWORD_FIELDS.map((f) => f.name),
  'https_proxy',
  'http_proxy',
  'password',
  'secret',
  'clientSecret',
  'privateKey',
  'private_key',
  'authorization',
  'Authorization',
  'access_token',
  'accessToken',
  'token',
  'cookie',
];

/** pino's redaction: fast paths compiled once, applied to the top level and two levels down. */
const REDACT_PATHS = SECRET_KEYS.flatMap((k) =>
  [k, `*.${k}`, `*.*.${k}`].map((p) => p.replace(/\.([^.*]+)$/, '["$1"]')),
);

/**
 * Log lines go to stderr unless a destination is given: stdout carries only what a command prints, so
 * `m365sync … --json` is one JSON document at every LOG_LEVEL (and a service's stderr is its log, as
 * container runtimes collect it).
 */
export function createLogger(
  options: { name?: string; level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'm365sync',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/**
 * The process-wide logger, at `info` until the entry point applies LOG_LEVEL from its settings
 * (`logger.level = …`). Tests may swap the destination through createLogger.
 */
export const logger = createLogger();
