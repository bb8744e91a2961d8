/**
 * A worker process of the fleet-limit test: the production ProxyPool with fleet-wide shell slots in
 * Redis (FleetShellSlots, as workers/full-pull.ts makes them), against one simulated proxy. Runs
 * FLEET_COMMANDS commands at once (each `Start-Sleep` FLEET_SLEEP_MS), then prints one JSON line: the
 * commands done and the seconds waited for slots (the pool's wait histogram). Configured by
 * REDIS_URL, FLEET_KEY_PREFIX, FLEET_PROXY_PORT, FLEET_LIMIT, FLEET_USER, FLEET_PASSWORD.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { FleetShellSlots, fleetShellSlotsKey } from '../../../connectors/winrm/fleet-shell-slots.js';
import { proxyMetrics } from '../../../connectors/winrm/metrics.js';
import { ProxyPool } from '../../../connectors/winrm/proxy-pool.js';

const env = process.env;
const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
const registry = new Registry();
const pool = new ProxyPool(
  {
    hosts: [{ host: '127.0.0.1', port: Number(env.FLEET_PROXY_PORT) }],
    scheme: 'http',
    username: env.FLEET_USER!,
    password: env.FLEET_PASSWORD!,
    maxShellsPerProxy: Number(env.FLEET_LIMIT),
  },
  {
    metrics: proxyMetrics(registry),
    slotsFor: (proxy, limit) =>
      new FleetShellSlots(redis, fleetShellSlotsKey(env.FLEET_KEY_PREFIX!, proxy), { limit, pollMaxMs: 100 }),
  },
);
const commands = Number(env.FLEET_COMMANDS);
const outputs = await Promise.all(
  Array.from({ length: commands }, (_, i) =>
    pool
      .execute(`Start-Sleep -Milliseconds ${env.FLEET_SLEEP_MS}\nWrite-Output '${i}'`)
      .collect()
      .then((r) => r.stdout.toString().trim()),
  ),
);
const wait = (await registry.getSingleMetricAsString('m365sync_powershell_proxy_slot_wait_seconds'))
  .split('\n')
  .find((l) => l.startsWith('m365sync_powershell_proxy_slot_wait_seconds_sum'));
process.stdout.write(
  `${JSON.stringify({ done: outputs.filter((o, i) => o === String(i)).length, waitedSeconds: Number(wait?.split(' ')[1]) })}\n`,
);
pool.close();
redis.disconnect();
