/**
 * Redis connection options for BullMQ, from the process's settings.
 *
 * - Workers (and QueueEvents, schedulers' workers) use `maxRetriesPerRequest: null` and ioredis's
 *   endless reconnect: when Redis goes away they wait and carry on when it is back (BullMQ relies on
 *   ioredis to reconnect; watch `isRunning()` and the `error` events).
 * - Producers (the CLI, the API) use `enableOfflineQueue: false`: while Redis is down a command fails
 *   at once instead of queueing in memory, so an operator gets an answer. A short-lived producer (the
 *   CLI) also gives up connecting after a few tries (`oneShot`), rather than hang; the API gives every
 *   command a timeout (`commandTimeoutMs`), for a Redis that accepts connections but never answers.
 * - `prefix` is the BullMQ key prefix (default `m365sync`); tests use one of their own per file.
 *
 * Redis Cluster (REDIS_CLUSTER_NODES): every connection, BullMQ's and ours (`createRedisClient`: the
 * limiters, shell and session slots, the shell ledger, the leader lock), is then an ioredis Cluster.
 * BullMQ builds its own connections from the options returned here; for a cluster they carry the
 * nodes, and `RedisConnection.clientFactory` (BullMQ's hook for other clients, installed by the first
 * cluster connection) makes an ioredis Cluster of them; any other options are built as BullMQ would.
 * The prefix gets a hash tag (`m365sync` → `{m365sync}`) unless it has one: BullMQ's scripts touch
 * several keys of a queue at once, which a cluster allows only within one hash slot (domain/redis-keys.ts).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { createIORedisClient, Queue, RedisConnection, type ConnectionOptions } from 'bullmq';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { ValidationError } from '../domain/errors.js';
import { withHashTag } from '../domain/redis-keys.js';
import type { Settings } from '../domain/settings.js';

export interface ClusterNode {
  host: string;
  port: number;
}

export interface RedisSettings {
  url: string;
  /** BullMQ key prefix; on a cluster always with a hash tag (`{m365sync}`), so a queue shares one slot. */
  prefix: string;
  /** Redis Cluster's seed nodes (REDIS_CLUSTER_NODES); REDIS_URL's host is then not used. */
  clusterNodes?: ClusterNode[];
}

/** REDIS_CLUSTER_NODES (`host:port,host:port`) as nodes; a clear error for anything else. */
export function parseClusterNodes(value: string): ClusterNode[] {
  const nodes = value
    .split(',')
    .map((part) => part.trim())
    .map((part) => {
      const match = /^([^\s,:]+):(\d{1,5})$/.exec(part);
      const port = match ? Number(match[2]) : 0;
      if (!match || port < 1 || port > 65535)
        throw new ValidationError('Configuration', [
          {
            field: 'REDIS_CLUSTER_NODES',
            message: `"${part}" is not host:port; give one or more cluster nodes separated by commas (127.0.0.1:30001,127.0.0.1:30002)`,
          },
        ]);
      return { host: match[1]!, port };
    });
  return nodes;
}

/** REDIS_URL, M365SYNC_QUEUE_PREFIX and REDIS_CLUSTER_NODES (checked by parseSettings). */
export function redisSettings(
  settings: Pick<Settings, 'REDIS_URL' | 'M365SYNC_QUEUE_PREFIX'> &
    Partial<Pick<Settings, 'REDIS_CLUSTER_NODES'>>,
): RedisSettings {
  const nodes = settings.REDIS_CLUSTER_NODES?.trim();
  if (!nodes) return { url: settings.REDIS_URL, prefix: settings.M365SYNC_QUEUE_PREFIX };
  return {
    url: settings.REDIS_URL,
    prefix: withHashTag(settings.M365SYNC_QUEUE_PREFIX),
    clusterNodes: parseClusterNodes(nodes),
  };
}

/** REDIS_URL's password, user and TLS, which apply to every node of a cluster. */
function nodeAuth(url: string): RedisOptions {
  try {
    const parsed = new URL(url);
    return {
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    };
  } catch {
    return {};
  }
}

/** The options a cluster connection is made of: the nodes, the cluster's and each node's options. */
interface ClusterConnection {
  m365syncClusterNodes: ClusterNode[];
  m365syncCluster: ClusterOptions;
}

function isClusterConnection(options: object): options is ClusterConnection {
  return 'm365syncClusterNodes' in options;
}

/**
 * The cluster's options for a role. A failover (a master dies, its replica takes over after
 * `cluster-node-timeout`) shows to ioredis as a closed connection, then MOVED or CLUSTERDOWN answers:
 * it retries the command after refreshing the slots, every `retryDelayOnFailover` up to
 * `maxRedirections` times, so a failover of up to ~15 s passes without an error.
 */
function clusterOptions(settings: RedisSettings, node: RedisOptions, offlineQueue: boolean): ClusterOptions {
  return {
    redisOptions: { ...nodeAuth(settings.url), ...node },
    enableOfflineQueue: offlineQueue,
    clusterRetryStrategy: (times: number) => Math.min(times * 200, 5000),
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 300,
    maxRedirections: 50,
    slotsRefreshTimeout: 2000,
  };
}

/** ioredis's defaults (16 redirections, 100 ms apart): a blocking connection gives up within ~2 s. */
const BLOCKING_FAILOVER: ClusterOptions = {
  maxRedirections: 16,
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
};

let factoryInstalled = false;

/** BullMQ makes its connections from our options through this (see the top of the file). */
function installClusterFactory(): void {
  if (factoryInstalled) return;
  factoryInstalled = true;
  RedisConnection.clientFactory = (options) => {
    if (isClusterConnection(options)) {
      const { m365syncClusterNodes, m365syncCluster } = options;
      // BullMQ's blocking connections carry their own name (CLIENT SETNAME), as `getWorkers` lists.
      // Their one command, the BZPOPMIN that waits for a job, is not retried through a failover:
      // BullMQ's fetch loop tries again by itself, and a BZPOPMIN retried for seconds holds up
      // `Worker.close()` (BullMQ's own cluster recovery reconnects the connection that close has just
      // disconnected, and the close waits for the command).
      const name = (options as RedisOptions).connectionName;
      return createIORedisClient(
        new Cluster(m365syncClusterNodes, {
          ...m365syncCluster,
          ...(name ? BLOCKING_FAILOVER : {}),
          redisOptions: { ...m365syncCluster.redisOptions, ...(name ? { connectionName: name } : {}) },
        }),
      );
    }
    // Anything else exactly as BullMQ builds it without a factory.
    const { url, ...rest } = options as RedisOptions & { url?: string };
    return createIORedisClient(url ? new Redis(url, rest) : new Redis(rest));
  };
}

function clusterConnection(settings: RedisSettings, cluster: ClusterOptions): ConnectionOptions {
  installClusterFactory();
  const connection: ClusterConnection & RedisOptions = {
    m365syncClusterNodes: settings.clusterNodes!,
    m365syncCluster: cluster,
    // What BullMQ checks of a connection's options (a blocking one must not limit retries).
    maxRetriesPerRequest: cluster.redisOptions?.maxRetriesPerRequest ?? null,
  };
  return connection as ConnectionOptions;
}

/** A Redis client of our own (not BullMQ's) that `close`s with `disconnect()`: a server's or a cluster's. */
export type RedisClient = Redis | Cluster;

/**
 * Our own connection for the fleet's shared state: the Graph limiter and app budget, shell and session
 * slots, the shell ledger, the leader lock. Like a worker's: it retries every command until Redis
 * answers (and on a cluster through a failover).
 */
export function createRedisClient(settings: RedisSettings): RedisClient {
  const retryStrategy = (times: number) => Math.min(times * 200, 5000);
  if (settings.clusterNodes)
    return new Cluster(settings.clusterNodes, clusterOptions(settings, { maxRetriesPerRequest: null }, true));
  return new Redis(settings.url, { maxRetriesPerRequest: null, retryStrategy });
}

/** The URL without its password, for logs and messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** For Workers and QueueEvents: retry every command until Redis answers, reconnect forever. */
export function workerConnection(settings: RedisSettings): ConnectionOptions {
  if (settings.clusterNodes)
    return clusterConnection(settings, clusterOptions(settings, { maxRetriesPerRequest: null }, true));
  return {
    url: settings.url,
    maxRetriesPerRequest: null,
    // ioredis's default reconnect delay grows to 2 s; keep trying indefinitely.
    retryStrategy: (times: number) => Math.min(times * 200, 5000),
  };
}

export interface ProducerOptions {
  /** The CLI: stop reconnecting after a few attempts. */
  oneShot?: boolean;
  /**
   * The API: every command fails after this long without an answer (a Redis that accepts connections
   * but never answers would otherwise hold a request for ever).
   */
  commandTimeoutMs?: number;
}

/**
 * What ioredis and BullMQ say when Redis is away: bare socket errors ("connect ECONNREFUSED …"),
 * "Connection is closed", "Stream isn't writeable…" (offline queue disabled), "Command timed out".
 * Redis's own refusals (a wrong password) are included; errors of MongoDB's driver are not.
 */
export function isRedisUnavailable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string };
  if (typeof e?.message !== 'string' || /^Mongo/.test(e.name ?? '')) return false;
  const socket = ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN'];
  return (
    socket.includes(e.code ?? '') ||
    /Connection is closed|enableOfflineQueue|Cluster isn't ready|Too many Cluster redirections|CLUSTERDOWN|Failed to refresh slots cache|None of startup nodes is available|MaxRetriesPerRequest|max retries per request|Command timed out|NOAUTH|WRONGPASS/i.test(
      e.message,
    )
  );
}

/**
 * For Queues that add jobs: fail fast while Redis is down. `oneShot` (the CLI) also stops
 * reconnecting after a few attempts so the command ends with an error instead of waiting.
 */
/**
 * A queue the engine adds jobs to (the sync, trigger and webhook queues), on a producer connection.
 * Its error events are heard and let go: the failures reach the callers as rejections, and an error
 * event nobody listens to would crash the process.
 */
export function producerQueue<Data = unknown>(
  name: string,
  redis: RedisSettings,
  options: ProducerOptions = {},
): Queue<Data, unknown, string> {
  const queue = new Queue<Data, unknown, string>(name, {
    connection: producerConnection(redis, options),
    prefix: redis.prefix,
  });
  queue.on(
    'error',
    ignoreBecause(
      'failures reach the callers as rejections; unheard, an error event would crash the process',
    ),
  );
  return queue;
}

export function producerConnection(
  settings: RedisSettings,
  options: ProducerOptions = {},
): ConnectionOptions {
  if (settings.clusterNodes) {
    const cluster = clusterOptions(
      settings,
      {
        maxRetriesPerRequest: 1,
        connectTimeout: 5000,
        ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
      },
      false,
    );
    if (options.oneShot) cluster.clusterRetryStrategy = (times: number) => (times > 3 ? null : times * 200);
    return clusterConnection(settings, cluster);
  }
  return {
    url: settings.url,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
    retryStrategy: options.oneShot
      ? (times: number) => (times > 3 ? null : times * 200)
      : (times: number) => Math.min(times * 200, 5000),
  };
}
