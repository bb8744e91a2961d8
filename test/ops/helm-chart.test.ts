/**
 * The Helm chart (deploy/helm/m365sync) as `helm lint --strict` and `helm template` of the pinned Helm
 * (scripts/ensure-helm.sh builds it once) see it: the three processes with their probes, resources
 * and replica counts, the workers' PodDisruptionBudget and shutdown grace, the metrics ports annotated
 * and the optional ServiceMonitor, and every secret from the Kubernetes Secret, never in the values
 * or a manifest. Each container's environment is then read as the process reads it (the Secret's
 * files through readSecretFiles, then parseSettings): every variable the chart sets is a setting.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readSecretFiles } from '../../connectors/secret-files.js';
import { SETTING_NAMES, parseSettings } from '../../domain/settings.js';
import { root } from './support/processes.js';

const run = promisify(execFile);
const chart = join(root, 'deploy/helm/m365sync');
const NAMESPACE = 'fleet';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}
interface Probe {
  httpGet: { path: string; port: string | number; httpHeaders?: { name: string; value: string }[] };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    maxUnavailable?: number;
    ports?: { name: string; port: number; targetPort: string }[];
    endpoints?: { port: string; path: string }[];
    template?: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        volumes: { name: string; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
      };
    };
  };
}

let helm = '';

beforeAll(async () => {
  // Built once into ~/.cache/m365sync/bin (scripts/test.sh runs this before vitest, so it is there).
  const { stdout } = await run('bash', [join(root, 'scripts/ensure-helm.sh')], {
    cwd: root,
    timeout: 20 * 60_000,
  });
  helm = stdout.trim().split('\n').pop()!;
}, 20 * 60_000);

async function template(...sets: string[]): Promise<Manifest[]> {
  const { stdout } = await run(helm, [
    'template',
    'prod',
    chart,
    '--namespace',
    NAMESPACE,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function deployment(manifests: Manifest[], component: string): Manifest {
  const found = manifests.find(
    (m) => m.kind === 'Deployment' && m.metadata.name === `prod-m365sync-${component}`,
  );
  if (!found) throw new Error(`no Deployment for ${component}`);
  return found;
}

function containerOf(manifests: Manifest[], component: string): Container {
  return deployment(manifests, component).spec.template!.spec.containers[0]!;
}

/** A Secret as `kubectl create secret generic` would hold it (values the test can look for). */
const SECRET_DATA: Record<string, string> = {
  'redis-url': 'redis://:redis-pass-in-secret@redis-master:6379',
  'mongodb-uri': 'mongodb://m365sync:mongo-pass-in-secret@mongo-0.mongo:27017/?replicaSet=rs0',
  'encryption-keys': 'k1:c2VjcmV0LWtleS1mb3ItaGVsbS10ZXN0LTMyYnl0ZXM=',
  'api-token': 'bootstrap-token-in-secret-0123456789abcdef',
};

/** The environment a container's process sees, with the Secret mounted as the pod mounts it. */
function processEnv(
  pod: NonNullable<Manifest['spec']['template']>['spec'],
  container: Container,
  secret: { name: string; data: Record<string, string> },
): { env: Record<string, string>; files: Map<string, string> } {
  const env: Record<string, string> = {};
  for (const v of container.env) {
    if (v.value !== undefined) env[v.name] = v.value.replace('$(POD_IP)', env.POD_IP ?? '');
    else if (v.valueFrom?.fieldRef) env[v.name] = '10.1.2.3';
    else if (v.valueFrom?.secretKeyRef) {
      const ref = v.valueFrom.secretKeyRef;
      expect(ref.name).toBe(secret.name);
      const value = secret.data[ref.key];
      if (value !== undefined) env[v.name] = value;
      else expect(ref.optional, `${v.name}: a missing key stops the pod`).toBe(true);
    }
  }
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (!volume?.secret) continue;
    expect(volume.secret.secretName).toBe(secret.name);
    expect(mount.readOnly).toBe(true);
    for (const item of volume.secret.items) {
      const value = secret.data[item.key];
      if (value === undefined) throw new Error(`the Secret has no key ${item.key}: the pod would not start`);
      files.set(`${mount.mountPath}/${item.path}`, `${value}\n`);
    }
  }
  return { env, files };
}

describe('the Helm chart', () => {
  it('passes helm lint --strict', async () => {
    const { stdout } = await run(helm, ['lint', '--strict', chart]);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('runs the api, the scheduler and the workers with the replica counts asked for', async () => {
    const manifests = await template('worker.replicas=7', 'api.replicas=3', 'scheduler.replicas=2');
    expect(deployment(manifests, 'worker').spec.replicas).toBe(7);
    expect(deployment(manifests, 'api').spec.replicas).toBe(3);
    expect(deployment(manifests, 'scheduler').spec.replicas).toBe(2);
    expect(containerOf(manifests, 'api').args.slice(0, 1)).toEqual(['api']);
    expect(containerOf(manifests, 'worker').args).toEqual(['worker']);
    expect(containerOf(manifests, 'scheduler').args).toEqual(['scheduler']);
    const defaults = await template();
    expect(deployment(defaults, 'worker').spec.replicas).toBe(2);
    // The image and tag come from the values (the tag defaults to the chart's appVersion).
    const tagged = await template('image.repository=registry.example/m365sync', 'image.tag=1.2.3');
    for (const c of ['api', 'worker', 'scheduler'])
      expect(containerOf(tagged, c).image).toBe('registry.example/m365sync:1.2.3');
  });

  it('probes each process: the api on /health and /readyz, the worker and scheduler on /livez and /health', async () => {
    const manifests = await template();
    const expected = {
      api: ['/health', '/readyz'],
      worker: ['/livez', '/health'],
      scheduler: ['/livez', '/health'],
    };
    for (const [component, [live, ready]] of Object.entries(expected)) {
      const c = containerOf(manifests, component);
      expect(c.livenessProbe?.httpGet.path, component).toBe(live);
      expect(c.readinessProbe?.httpGet.path, component).toBe(ready);
      for (const probe of [c.livenessProbe!, c.readinessProbe!]) {
        // A named port of this container, and a Host the API answers to.
        expect(c.ports.map((p) => p.name)).toContain(probe.httpGet.port);
        expect(probe.httpGet.httpHeaders).toContainEqual({ name: 'Host', value: 'localhost' });
      }
      expect(c.resources?.requests?.cpu, component).toBeDefined();
      expect(c.resources?.limits?.memory, component).toBeDefined();
    }
  });

  it('keeps workers through a drain (PodDisruptionBudget) and lets them finish their runs', async () => {
    const manifests = await template();
    const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget');
    expect(pdb?.spec.maxUnavailable).toBe(1);
    const worker = deployment(manifests, 'worker');
    expect((pdb!.spec.selector as { matchLabels: Record<string, string> }).matchLabels).toEqual(
      worker.spec.template!.metadata.labels,
    );
    const grace = Number(
      containerOf(manifests, 'worker').env.find((v) => v.name === 'SYNC_SHUTDOWN_GRACE_MS')?.value,
    );
    // The shutdown grace plus the 5 s a worker takes to hand its jobs back fit the pod's grace.
    expect(worker.spec.template!.spec.terminationGracePeriodSeconds!).toBeGreaterThanOrEqual(
      grace / 1000 + 5,
    );
    expect(
      (await template('worker.podDisruptionBudget.enabled=false')).some(
        (m) => m.kind === 'PodDisruptionBudget',
      ),
    ).toBe(false);
  });

  it('annotates each pod with its metrics port, and renders a ServiceMonitor when asked', async () => {
    const manifests = await template();
    for (const component of ['api', 'worker', 'scheduler']) {
      const pod = deployment(manifests, component).spec.template!;
      const annotations = pod.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape'], component).toBe('true');
      expect(annotations['prometheus.io/path'], component).toBe('/metrics');
      expect(pod.spec.containers[0]!.ports.map((p) => String(p.containerPort))).toContain(
        annotations['prometheus.io/port'],
      );
    }
    expect(manifests.some((m) => m.kind === 'ServiceMonitor')).toBe(false);
    const monitored = await template(
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.labels.release=kps',
    );
    const monitor = monitored.find((m) => m.kind === 'ServiceMonitor')!;
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels?.release).toBe('kps');
    // Each endpoint's port is a named port of the processes' Services.
    const servicePorts = new Set(
      monitored.filter((m) => m.kind === 'Service').flatMap((s) => (s.spec.ports ?? []).map((p) => p.name)),
    );
    for (const endpoint of monitor.spec.endpoints!) expect(servicePorts).toContain(endpoint.port);
  });

  it('takes every secret from the Kubernetes Secret, and none from the values or a manifest', async () => {
    const manifests = await template(
      'secrets.existingSecret=m365sync-prod',
      'api.hostnames={m365sync.example.net}',
    );
    const rendered = JSON.stringify(manifests);
    for (const value of Object.values(SECRET_DATA)) expect(rendered).not.toContain(value);
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);
    for (const component of ['api', 'worker', 'scheduler']) {
      const pod = deployment(manifests, component).spec.template!.spec;
      const container = pod.containers[0]!;
      for (const v of container.env) {
        expect(
          ['REDIS_URL', 'MONGODB_URI', 'M365SYNC_ENCRYPTION_KEYS'],
          `${component}: ${v.name} inline`,
        ).not.toContain(v.name);
        if (v.name === 'M365SYNC_API_TOKEN') expect(v.value, 'the token is never inline').toBeUndefined();
      }
      // What the process reads: the Secret's files through the _FILE variables, then the settings.
      const { env, files } = processEnv(pod, container, { name: 'm365sync-prod', data: SECRET_DATA });
      const read = (path: string) => {
        const content = files.get(path);
        if (content === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
        return Buffer.from(content);
      };
      for (const name of Object.keys(env))
        if (name !== 'POD_IP') expect(SETTING_NAMES, `${component}: ${name} is no setting`).toContain(name);
      const settings = parseSettings(readSecretFiles(env, read));
      expect(settings.REDIS_URL, component).toBe(SECRET_DATA['redis-url']);
      expect(settings.MONGODB_URI, component).toBe(SECRET_DATA['mongodb-uri']);
      expect(settings.M365SYNC_ENCRYPTION_KEYS, component).toBe(SECRET_DATA['encryption-keys']);
      if (component === 'api') {
        expect(settings.M365SYNC_API_TOKEN).toBe(SECRET_DATA['api-token']);
        expect(settings.M365SYNC_API_HOSTNAMES?.split(',')).toEqual([
          '10.1.2.3',
          'prod-m365sync-api',
          `prod-m365sync-api.${NAMESPACE}.svc`,
          `prod-m365sync-api.${NAMESPACE}.svc.cluster.local`,
          'm365sync.example.net',
        ]);
        // Once a token is stored the Secret may drop the bootstrap token: the pod still starts.
        const { 'api-token': _token, ...withoutToken } = SECRET_DATA;
        const later = processEnv(pod, container, { name: 'm365sync-prod', data: withoutToken });
        expect(parseSettings(readSecretFiles(later.env, read)).M365SYNC_API_TOKEN).toBeUndefined();
      } else {
        expect(settings.M365SYNC_METRICS_HOST, component).toBe('0.0.0.0');
        expect(settings.M365SYNC_API_TOKEN, `${component} has no API token`).toBeUndefined();
      }
    }
  });

  it('refuses a secret put in the values, naming it', async () => {
    await expect(template('config.REDIS_URL=redis://:pw@r:6379')).rejects.toThrow(
      /config\.REDIS_URL: a secret belongs in the Secret/,
    );
    await expect(template('config.M365SYNC_API_TOKEN_FILE=/x')).rejects.toThrow(
      /config\.M365SYNC_API_TOKEN_FILE/,
    );
    // A setting that is no secret goes to every process.
    const manifests = await template('config.SYNC_ATTEMPTS=5');
    for (const component of ['api', 'worker', 'scheduler'])
      expect(containerOf(manifests, component).env).toContainEqual({ name: 'SYNC_ATTEMPTS', value: '5' });
  });
});
