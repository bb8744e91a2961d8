/**
 * Every environment variable m365sync reads, in one schema, parsed once per process.
 *
 * Each entry point (the CLI context, the demo, the benchmarks) calls `parseSettings(process.env)` and
 * passes the typed result down; no library function reads `process.env`. A wrong value stops the
 * process with one ValidationError that names every wrong variable (never its value when the variable
 * can hold a secret). The README's Configuration table lists exactly these variables and their
 * defaults (test/docs/configuration.unit.test.ts checks it).
 *
 * It lives in domain/ because parsing a record of strings is pure (zod only) and every folder may
 * import domain/: reading files a variable names (CA bundles) stays in the connectors.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

const int = (min: number, max?: number) => {
  const base = z.coerce.number().int().min(min);
  return max === undefined ? base : base.max(max);
};
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const trueOrFalse = z.enum(['true', 'false']).transform((v) => v === 'true');
/** Unset or blank: undefined; otherwise trimmed. */
const blankAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const threshold = (kind: 'count' | 'percent') =>
  z.preprocess(
    (v) => (typeof blankAsUnset(v) === 'string' ? (v as string).trim() : undefined),
    (kind === 'count'
      ? z.string().regex(/^\d+$/, 'must be a whole number of 0 or more')
      : z
          .string()
          .regex(/^\d+(\.\d+)?$/, 'must be a number from 0 to 100')
          .refine((s) => Number(s) <= 100, 'must be a number from 0 to 100')
    )
      .transform(Number)
      .optional(),
  );

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const SettingsSchema = z.object({
  // Services
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  M365SYNC_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - { } only')
    .default('m365sync'),
  /**
   * Redis Cluster instead of REDIS_URL's single server: some of its nodes, `host:port` separated by
   * commas (the rest are discovered). REDIS_URL's password and `rediss://` apply to every node; a
   * prefix without a {hash tag} is wrapped in braces (queues/connection.ts).
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(
      /^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/,
      'host:port of one or more cluster nodes, separated by commas (127.0.0.1:30001,127.0.0.1:30002)',
    )
    .optional(),
  MONGODB_URI: z.string().default('mongodb://127.0.0.1:27017'),
  M365SYNC_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,60}$/, 'a database name of letters, digits, "-" and "_"')
    .default('m365sync'),
  /** How long any one MongoDB operation may wait for the server's answer before it fails. */
  MONGODB_SOCKET_TIMEOUT_MS: int(100).default(30_000),
  /** How long an operation may wait for a reachable server (and a connection) before it fails. */
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: int(100).default(10_000),
  /** Parsed into a key ring by connectors/mongo/encryption.ts (its own ENCRYPTION_KEY errors). */
  M365SYNC_ENCRYPTION_KEYS: z.string().optional(),

  // Every process
  LOG_LEVEL: z.enum(LOG_LEVELS).optional(),
  M365SYNC_OPERATOR: z.string().optional(),

  // The API
  M365SYNC_API_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  M365SYNC_API_HOSTNAMES: z.string().optional(),
  /**
   * Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For the API
   * believes: the client address that failed sign-ins are counted by (and logged) is then the one the
   * proxy saw. Unset: the connection's own address.
   */
  M365SYNC_API_TRUSTED_PROXIES: z.string().optional(),
  M365SYNC_API_RATE_LIMIT: z.preprocess(
    blankAsUnset,
    z.coerce
      .number()
      .int('must be a whole number of requests per minute per token')
      .min(1, 'must be a whole number of requests per minute per token')
      .optional(),
  ),
  /** How long an API request waits for Redis (then 503), and /readyz for Redis and MongoDB. */
  M365SYNC_API_SERVICE_TIMEOUT_MS: z.preprocess(
    blankAsUnset,
    z.coerce
      .number()
      .int('must be a whole number of milliseconds from 50 to 60000')
      .min(50, 'must be a whole number of milliseconds from 50 to 60000')
      .max(60_000, 'must be a whole number of milliseconds from 50 to 60000')
      .default(1000),
  ),
  M365SYNC_API_HOST: z.string().default('127.0.0.1'),
  M365SYNC_API_PORT: int(0, 65535).default(8080),

  // Metrics
  M365SYNC_METRICS_PORT: int(0, 65535).optional(),
  // Loopback by default (also when empty): /metrics is unauthenticated and describes the whole fleet.
  M365SYNC_METRICS_HOST: z.string().optional(),
  M365SYNC_METRICS_TENANT_LABEL: trueOrFalse.default(true),
  M365SYNC_METRICS_PROXY_LABEL: trueOrFalse.default(false),
  M365SYNC_STALE_AFTER_HOURS: z.coerce.number().positive().default(36),
  M365SYNC_STALENESS_REFRESH_MS: int(0).default(60_000),

  // Sync jobs (set where jobs are enqueued: CLI, API, worker for scheduled syncs)
  SYNC_ATTEMPTS: int(1, 20).default(3),
  SYNC_BACKOFF_MS: int(100).default(60_000),
  SYNC_KEEP_COMPLETED_JOBS: int(0).default(1000),
  SYNC_KEEP_FAILED_JOBS: int(0).default(5000),

  // The worker
  SYNC_WORKER_CONCURRENCY: int(1, 64).default(2),
  SYNC_LOCK_DURATION_MS: int(500).default(300_000),
  SYNC_STALLED_INTERVAL_MS: int(500).default(60_000),
  SYNC_MAX_STALLED_COUNT: int(0).default(2),
  SYNC_LEASE_TTL_MS: int(500).default(60_000),
  SYNC_LEASE_CLOCK_SKEW_MS: int(0).default(5_000),
  SYNC_LEASE_RETRY_MS: int(100).default(30_000),
  SYNC_SHUTDOWN_GRACE_MS: int(0).default(25_000),
  SYNC_REAPER_INTERVAL_MS: int(100).default(60_000),
  SYNC_ENQUEUE_GRACE_MS: int(100).default(60_000),

  // Delta sync (docs/delta.md). Off: no delta schedules, no delta links taken by full pulls, and delta
  // requests refused.
  M365SYNC_DELTA: trueOrFalse.default(true),
  /** Minutes between a tenant's scheduled delta runs (its own schedule can change it; 0: none). */
  SCHEDULE_DELTA_MINUTES: int(0, 1440).default(15),
  /** Days a delta run's record is kept when it changed nothing (a full pull's and a changing one's stay). */
  SYNC_DELTA_RUN_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(2),

  // The change feed (kept by the workers)
  M365SYNC_CHANGES_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(30),

  // Webhook deliveries (queued and delivered by the worker processes)
  M365SYNC_WEBHOOK_ATTEMPTS: int(1, 30).default(10),
  M365SYNC_WEBHOOK_BACKOFF_MS: int(10).default(10_000),
  M365SYNC_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),

  // The scheduler
  SCHEDULER_RECONCILE_MS: int(100).default(60_000),
  SCHEDULER_LEADER_TTL_MS: int(100).default(30_000),
  SCHEDULE_TZ: z
    .string()
    .refine(isTimeZone, 'is not an IANA time zone (e.g. UTC, Europe/London)')
    .default('UTC'),
  SCHEDULE_WINDOW_START: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
    .default('01:00'),
  SCHEDULE_WINDOW_MINUTES: int(1, 1440).default(240),

  // The full pull
  /** Extra CA (PEM file) trusted for Graph and its sign-in: a TLS-inspecting proxy, or the simulator. */
  M365SYNC_GRAPH_CA_FILE: z.string().optional(),
  /** Node's own extra CA file; Node drops it once a CA is given explicitly, so Graph adds it back. */
  NODE_EXTRA_CA_CERTS: z.string().optional(),
  /** Largest Graph response body read; beyond it the request fails (a page is a few MB). */
  GRAPH_MAX_RESPONSE_BYTES: int(1024).default(64 * 1024 * 1024),
  // Graph requests per application (client id) across all tenants (connectors/graph/app-limiter.ts)
  GRAPH_APP_REQUESTS_PER_WINDOW: int(1).default(75_000),
  GRAPH_APP_WINDOW_MS: int(1000, 3_600_000).default(20_000),
  /** Overall time one Graph or sign-in request may take, headers and whole body. */
  GRAPH_REQUEST_DEADLINE_MS: int(1000).default(5 * 60 * 1000),
  /** Objects of one kind written to MongoDB in one bulk write, from PowerShell output. */
  SYNC_POWERSHELL_BATCH: int(1, 10_000).default(500),
  /** How long the Teams users wait for this run's Graph users before matching against stored ones. */
  SYNC_TEAMS_MATCH_WAIT_MS: int(0).default(15 * 60 * 1000),
  /** How long one PowerShell script may run before it is terminated. */
  SYNC_POWERSHELL_DEADLINE_MS: int(1000).default(2 * 60 * 60 * 1000),
  /** How long a worker that stops refreshing counts as alive in the WinRM shell ledger. */
  SYNC_SHELL_LEDGER_ALIVE_MS: int(500).default(300_000),
  /**
   * How far a worker's heap may grow past what its last full collection left live, in percent
   * (workers/heap-growth.ts); 0 leaves V8's own growth (up to 4 times).
   */
  SYNC_WORKER_HEAP_GROWTH_PERCENT: int(0, 400).default(20),
  POWERSHELL_MAX_OUTPUT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(512 * 1024 * 1024),
  POWERSHELL_MAX_STDERR_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  POWERSHELL_MAX_LINE_CHARS: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),

  // WinRM (the tenant gives hosts and credentials; the deployment chooses these)
  M365SYNC_WINRM_SCHEME: z.enum(['http', 'https']).default('https'),
  M365SYNC_WINRM_CA_FILE: z.string().min(1).optional(),
  M365SYNC_WINRM_REJECT_UNAUTHORIZED: flag.default(true),
  M365SYNC_WINRM_AFFINITY_KEY: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim() || undefined : v),
    z.string().optional(),
  ),
  M365SYNC_WINRM_MAX_SHELLS_PER_PROXY: int(1, 29).default(20),
  M365SYNC_WINRM_SHELL_SLOT_LEASE_MS: int(1000, 3_600_000).default(60_000),
  /** Concurrent PowerShell sessions per sign-in account across the fleet (docs/winrm.md). */
  M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT: int(1, 100).default(3),
  M365SYNC_WINRM_OPERATION_TIMEOUT_MS: int(100, 60_000).default(20_000),
  M365SYNC_WINRM_IDLE_TIMEOUT_MS: int(1000, 12 * 3_600_000).default(900_000),
  M365SYNC_WINRM_MAX_ENVELOPE_SIZE: int(8192, 10 * 1024 * 1024).default(153_600),
  M365SYNC_WINRM_COOL_DOWN_MS: int(0, 3_600_000).default(30_000),
  M365SYNC_WINRM_PROBE_INTERVAL_MS: int(10, 3_600_000).default(10_000),

  // Mass-delete protection, global level (docs/controls.md)
  DELETE_THRESHOLD_GRAPH: threshold('count'),
  DELETE_THRESHOLD_GRAPH_PERCENT: threshold('percent'),
  DELETE_THRESHOLD_TEAMS: threshold('count'),
  DELETE_THRESHOLD_TEAMS_PERCENT: threshold('percent'),
  DELETE_THRESHOLD_EXCHANGE: threshold('count'),
  DELETE_THRESHOLD_EXCHANGE_PERCENT: threshold('percent'),
  /** The names of the system m365sync replaces, as counts; m365sync's own name wins. */
  PULL_SYNC_DELETE_THRESHOLD_MSGraph: threshold('count'),
  PULL_SYNC_DELETE_THRESHOLD_MSTeamsOnline: threshold('count'),

  // The simulators and the demo
  M365SYNC_SIM_PROXY_PASSWORD: z.string().optional(),
  M365SYNC_SIM_TEAMS_PASSWORD: z.string().optional(),
  DEMO_USERS: int(1).default(500),

  // Each secret's `_FILE` variant: a file to read it from, as container platforms mount secrets (read
  // by connectors/secret-files.ts before the settings are parsed; SECRET_SETTINGS has the list).
  REDIS_URL_FILE: z.string().optional(),
  MONGODB_URI_FILE: z.string().optional(),
  M365SYNC_ENCRYPTION_KEYS_FILE: z.string().optional(),
  M365SYNC_API_TOKEN_FILE: z.string().optional(),
  M365SYNC_SIM_PROXY_PASSWORD_FILE: z.string().optional(),
  M365SYNC_SIM_TEAMS_PASSWORD_FILE: z.string().optional(),
});

export type Settings = z.output<typeof SettingsSchema>;
export type SettingName = keyof Settings;
export const SETTING_NAMES = Object.keys(SettingsSchema.shape) as SettingName[];

/** Variables whose value is never echoed in an error (a key, a token, a password, a URL with one). */
export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set<SettingName>([
  'REDIS_URL',
  'MONGODB_URI',
  'M365SYNC_ENCRYPTION_KEYS',
  'M365SYNC_API_TOKEN',
  'M365SYNC_SIM_PROXY_PASSWORD',
  'M365SYNC_SIM_TEAMS_PASSWORD',
]);

/** The variable that names a file holding the secret `name` (`REDIS_URL` → `REDIS_URL_FILE`). */
export function secretFileVariable(name: SettingName): SettingName {
  return `${name}_FILE` as SettingName;
}

/**
 * The settings of this environment (an entry point passes `process.env`; tests pass their own).
 * Unknown variables are ignored; every wrong one is named in one ValidationError('Configuration').
 */
export function parseSettings(env: Readonly<Record<string, string | undefined>>): Settings {
  const parsed = SettingsSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0]);
    const value = env[field];
    const shown =
      SECRET_SETTINGS.has(field as SettingName) || value === undefined
        ? ''
        : ` (not ${JSON.stringify(value)})`;
    return { field, message: `${issue.message}${shown}` };
  });
  throw new ValidationError('Configuration', problems);
}

/** Every default, nothing set: what a library option means when a caller leaves it out. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze(parseSettings({}));
