/**
 * docker-compose.yml as an operator runs it, rendered by a real compose implementation (Debian's
 * docker-compose, `config`: interpolation, merges and validation; no Docker engine needed) and checked
 * for what makes the stack work and safe: the API's host and token, healthchecks and start order,
 * stop grace, ports on loopback, passwords on Redis and MongoDB, one shared environment.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseSettings } from '../../domain/settings.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

const SECRETS = {
  M365SYNC_ENCRYPTION_KEYS: 'k1:c2VjcmV0LWtleS1mb3ItY29tcG9zZS10ZXN0LTMyYg==',
  M365SYNC_API_TOKEN: 'token-from-dotenv-4f1c-0123456789abcdef0123',
  REDIS_PASSWORD: 'redis-pass-9a7e',
  MONGO_PASSWORD: 'mongo-pass-51bd',
  GRAFANA_ADMIN_PASSWORD: 'grafana-pass-77aa',
};
const PROCESSES = ['api', 'worker', 'scheduler'] as const;

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  ports?: (string | { host_ip?: string; published?: number | string; target?: number })[];
  stop_grace_period?: string;
  volumes?: (string | { source?: string; target: string })[];
  profiles?: string[];
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'm365sync-compose-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** `docker-compose config` with the given .env (the default .env of a checkout is never read). */
async function render(dotenv: Record<string, string>): Promise<Record<string, Service>> {
  const file = join(dir, `env-${Object.keys(dotenv).length}-${Date.now()}`);
  await writeFile(
    file,
    Object.entries(dotenv)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  const { stdout } = await run(
    'docker-compose',
    ['--env-file', file, '--profile', 'cli', '-f', join(root, 'docker-compose.yml'), 'config'],
    { cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  );
  return (parseYaml(stdout) as { services: Record<string, Service> }).services;
}

function seconds(duration: string | undefined): number {
  const m = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(duration ?? '');
  if (!m || !duration) throw new Error(`not a duration: ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

function hostIps(service: Service): string[] {
  return (service.ports ?? []).map((p) =>
    typeof p === 'string' ? p.split(':').slice(0, -2).join(':') : (p.host_ip ?? ''),
  );
}

describe('docker-compose.yml', () => {
  it('refuses to render without each secret, naming it (the bootstrap token is optional)', async () => {
    for (const name of Object.keys(SECRETS).filter((k) => k !== 'M365SYNC_API_TOKEN')) {
      const without = Object.fromEntries(Object.entries(SECRETS).filter(([k]) => k !== name));
      await expect(render(without)).rejects.toThrow(name);
    }
    // Once a token is stored the API needs no bootstrap token: unset in .env, it renders empty,
    // which the settings read as none (the API then starts on its stored tokens).
    const { M365SYNC_API_TOKEN: _token, ...withoutToken } = SECRETS;
    const { api } = await render(withoutToken);
    expect(api!.environment?.M365SYNC_API_TOKEN ?? '').toBe('');
    expect(parseSettings({ M365SYNC_API_TOKEN: '' }).M365SYNC_API_TOKEN).toBeUndefined();
  });

  it('runs the API on all interfaces of its container, with the token from .env', async () => {
    const { api } = await render(SECRETS);
    const args = api!.command ?? [];
    expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
    expect(api!.environment?.M365SYNC_API_TOKEN).toBe(SECRETS.M365SYNC_API_TOKEN);
    // Prometheus reaches the API as `api`: the API must answer to that host name.
    expect(api!.environment?.M365SYNC_API_HOSTNAMES?.split(',')).toContain('api');
    // The token is the API's alone.
    for (const name of ['worker', 'scheduler'] as const)
      expect((await render(SECRETS))[name]!.environment?.M365SYNC_API_TOKEN).toBeUndefined();
  });

  it('publishes ports on 127.0.0.1 unless M365SYNC_PUBLISH_HOST says otherwise', async () => {
    const services = await render(SECRETS);
    const published = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(published.map(([name]) => name).sort()).toEqual(['alertmanager', 'api', 'grafana', 'prometheus']);
    for (const [, s] of published) expect(new Set(hostIps(s))).toEqual(new Set(['127.0.0.1']));
    const opened = await render({ ...SECRETS, M365SYNC_PUBLISH_HOST: '10.1.2.3' });
    expect(hostIps(opened.api!)).toEqual(['10.1.2.3']);
  });

  it('gives every long-running service a healthcheck, and starts each after what it needs is healthy', async () => {
    const services = await render(SECRETS);
    for (const [name, s] of Object.entries(services)) {
      if (name === 'cli') continue;
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      for (const [dep, d] of Object.entries(s.depends_on ?? {}))
        expect(d.condition, `${name} depends on ${dep}`).toBe('service_healthy');
    }
    for (const name of [...PROCESSES, 'cli'])
      expect(Object.keys(services[name]!.depends_on ?? {}).sort()).toEqual(['mongo', 'redis']);
    // The slim image has no curl: the probe is node, on the port the process serves /health on.
    expect(services.api!.healthcheck!.test).toContain('node');
    expect(String(services.api!.healthcheck!.test)).toContain('127.0.0.1:8080/health');
    for (const name of ['worker', 'scheduler'] as const) {
      const s = services[name]!;
      expect(s.healthcheck!.test).toContain('node');
      expect(String(s.healthcheck!.test)).toContain(`:${s.environment!.M365SYNC_METRICS_PORT}/health`);
      // Bound to every interface of the container, or Prometheus (another container) cannot scrape it.
      expect(s.environment!.M365SYNC_METRICS_HOST).toBe('0.0.0.0');
    }
  });

  it('lets a worker finish its shutdown grace before Docker kills it', async () => {
    const services = await render(SECRETS);
    for (const name of PROCESSES) {
      const s = services[name]!;
      const graceMs = Number(s.environment!.SYNC_SHUTDOWN_GRACE_MS);
      expect(graceMs).toBeGreaterThan(0);
      // The worker cancels after the grace, then takes up to 5 s to hand its jobs back.
      expect(seconds(s.stop_grace_period) * 1000, name).toBeGreaterThan(graceMs + 5000);
    }
  });

  it('protects Redis and MongoDB with the passwords from .env, and gives the processes the same', async () => {
    const services = await render(SECRETS);
    // `config` prints the command as compose reads it again: `$$` is a literal `$` for the shell.
    expect(services.redis!.command!.join(' ')).toMatch(/--requirepass "\$\$?REDIS_PASSWORD"/);
    expect(services.redis!.environment!.REDIS_PASSWORD).toBe(SECRETS.REDIS_PASSWORD);
    expect(services.mongo!.environment!.MONGO_INITDB_ROOT_PASSWORD).toBe(SECRETS.MONGO_PASSWORD);
    for (const name of PROCESSES) {
      const env = services[name]!.environment!;
      expect(new URL(env.REDIS_URL!).password).toBe(SECRETS.REDIS_PASSWORD);
      expect(new URL(env.MONGODB_URI!).password).toBe(SECRETS.MONGO_PASSWORD);
      expect(new URL(env.MONGODB_URI!).username).toBe(
        services.mongo!.environment!.MONGO_INITDB_ROOT_USERNAME,
      );
    }
  });

  it('gives every m365sync process the one shared environment (the worker keeps LOG_LEVEL)', async () => {
    const services = await render({ ...SECRETS, LOG_LEVEL: 'debug' });
    const {
      M365SYNC_API_TOKEN: _token,
      M365SYNC_API_HOSTNAMES: _names,
      ...shared
    } = services.api!.environment!;
    expect(shared.LOG_LEVEL).toBe('debug');
    for (const name of ['worker', 'scheduler', 'cli'] as const)
      expect(services[name]!.environment, name).toEqual(shared);
  });

  it('keeps the Prometheus data and rule files, and provisions Grafana with the dashboard', async () => {
    const services = await render(SECRETS);
    // Rendered as `source:target[:mode]` strings.
    const targets = (s: Service) =>
      (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1]! : v.target));
    const prometheus = targets(services.prometheus!).join('\n');
    expect(prometheus).toContain('/prometheus');
    expect(prometheus).toContain('/etc/prometheus/alerts.yml');
    const config = parseYaml(await readFile(join(root, 'deploy/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: { job_name: string }[];
    };
    expect(config.rule_files).toContain('/etc/prometheus/alerts.yml');
    // Alerts go to the stack's Alertmanager, which reads deploy/alertmanager.yml (or the operator's file).
    expect(config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets))).toEqual([
      'alertmanager:9093',
    ]);
    const alertmanager = services.alertmanager!;
    expect(targets(alertmanager)).toContain('/etc/alertmanager/alertmanager.yml');
    const mounted = (s: Service) =>
      (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '')));
    expect(mounted(alertmanager)).toContain(join(root, 'deploy/alertmanager.yml'));
    expect(services.prometheus!.depends_on?.alertmanager?.condition).toBe('service_healthy');
    const own = await render({ ...SECRETS, M365SYNC_ALERTMANAGER_CONFIG: '/etc/ops/alertmanager.yml' });
    expect(mounted(own.alertmanager!)).toContain('/etc/ops/alertmanager.yml');
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual([
      'm365sync-api',
      'm365sync-scheduler',
      'm365sync-worker',
    ]);
    expect(targets(services.grafana!)).toEqual(
      expect.arrayContaining(['/etc/grafana/provisioning', '/var/lib/grafana/dashboards']),
    );
    const provider = parseYaml(
      await readFile(join(root, 'deploy/grafana/provisioning/dashboards/m365sync.yml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
    JSON.parse(await readFile(join(root, 'deploy/grafana/dashboards/m365sync.json'), 'utf8'));
  });

  it('pins every image, and the Dockerfile base, to a patch release: nothing floats', async () => {
    // A tag such as redis:7, mongo:7 or node:22 moves under a running fleet; x.y.z (or a digest) does not.
    const pinned = (ref: string) => /^[^:@\s]+(:v?\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$/.test(ref);
    const hasVersion = (ref: string) => /:v?\d+\.\d+\.\d+|@sha256:/.test(ref);
    const services = await render(SECRETS);
    const pulled = Object.entries(services).filter(([, s]) => s.build === undefined);
    expect(pulled.map(([name]) => name).sort()).toEqual(
      ['alertmanager', 'grafana', 'mongo', 'prometheus', 'redis'].sort(),
    );
    for (const [name, service] of pulled) {
      expect(service.image, name).toBeDefined();
      expect(pinned(service.image!) && hasVersion(service.image!), `${name}: ${service.image}`).toBe(true);
    }
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(pinned(base) && hasVersion(base), base).toBe(true);
  });

  it('builds on a supported Node LTS, and keeps .env out of git and of the image', async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].map((m) => Number(m[1]));
    expect(bases.length).toBeGreaterThan(0);
    for (const major of bases) expect(major).toBeGreaterThanOrEqual(22);
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toMatch(/>=22/);
    await run('git', ['check-ignore', '-q', '.env'], { cwd: root }); // exits 1 when not ignored
    const dockerignore = (await readFile(join(root, '.dockerignore'), 'utf8')).split('\n');
    expect(dockerignore).toContain('.env');
  });
});
