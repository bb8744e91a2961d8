/**
 * Secrets are bound to where they are sent. A change that sends a stored secret somewhere new (another
 * sign-in host, Graph base URL, national cloud, PowerShell proxy or outbound proxy) is refused unless the same change
 * gives that secret again: otherwise anyone allowed to edit a tenant could point it at a server of their
 * own and collect secrets they were never shown. Leaving a secret out or sending the mask counts as not
 * given. Certificate sign-in is not affected: its signed assertion names its audience.
 */
import { graphEndpoints } from './cloud.js';
import type { FieldProblem } from './errors.js';
import { parsePowerShellHosts } from './powershell-hosts.js';
import { MASK, type TenantConfig, type TenantInput } from './tenant.js';

type SecretRef =
  | readonly ['Microsoft 365', 'client_secret' | 'proxy_password']
  | readonly [
      'Microsoft Teams Powershell' | 'Microsoft Teams' | 'Microsoft Teams HTTP Proxy',
      'proxyPassword' | 'tenantPassword' | 'http_proxy_password',
    ];

interface Binding {
  /** What the operator changed, in the field's words. */
  destination: string;
  /** Where the secrets go, as a set of places: a change adds a place the old config did not have. */
  places(c: TenantConfig): string[];
  secrets: readonly SecretRef[];
}

const lower = (s: string) => s.trim().toLowerCase().replace(/\/+$/, '');

function proxyPlace(c: TenantConfig): string[] {
  const m365 = c['Microsoft 365'];
  const url = m365.https_proxy ?? m365.http_proxy;
  if (!url) return [];
  try {
    return [new URL(url).origin];
  } catch {
    return [lower(url)];
  }
}

const BINDINGS: readonly Binding[] = [
  {
    destination: 'Microsoft 365.authority_host (or cloud)',
    places: (c) => [lower(graphEndpoints(c).authorityHost)],
    secrets: [['Microsoft 365', 'client_secret']],
  },
  {
    // The token the client secret buys is sent to the Graph base URL, and names it as its audience.
    destination: 'Microsoft 365.graph_base_url (or cloud)',
    places: (c) => [lower(graphEndpoints(c).graphBaseUrl)],
    secrets: [['Microsoft 365', 'client_secret']],
  },
  {
    // WinRM Basic sends the proxy account; the scripts carry the Teams account and the HTTP proxy password.
    destination: 'Microsoft Teams Powershell.hostName',
    places: (c) =>
      parsePowerShellHosts(c['Microsoft Teams Powershell'].hostName).map(
        (h) => `${lower(h.host)}:${h.port ?? ''}`,
      ),
    secrets: [
      ['Microsoft Teams Powershell', 'proxyPassword'],
      ['Microsoft Teams', 'tenantPassword'],
      ['Microsoft Teams HTTP Proxy', 'http_proxy_password'],
    ],
  },
  {
    // The Teams script signs in to the Teams environment of the tenant's cloud (TeamsEnvironmentName),
    // whatever the Graph URLs say, and through the Teams HTTP proxy with its password: a cloud change
    // sends the service account's password to another cloud's sign-in.
    destination: 'Microsoft 365.cloud',
    places: (c) => [c['Microsoft 365'].cloud ?? 'global'],
    secrets: [
      ['Microsoft Teams', 'tenantPassword'],
      ['Microsoft Teams HTTP Proxy', 'http_proxy_password'],
    ],
  },
  {
    destination: 'Microsoft 365.https_proxy / http_proxy',
    places: proxyPlace,
    secrets: [['Microsoft 365', 'proxy_password']],
  },
];

function valueOf(c: TenantConfig | TenantInput, [group, name]: SecretRef): unknown {
  return (c[group] as Record<string, unknown> | undefined)?.[name];
}

/**
 * The secrets a change must give again: every secret the new configuration keeps whose destination
 * gained a place. `current` is the stored tenant, `next` the validated result, `change` what was sent.
 */
export function secretsToGiveAgain(
  current: TenantConfig,
  next: TenantConfig,
  change: TenantInput,
): FieldProblem[] {
  const reasons = new Map<string, string[]>();
  for (const binding of BINDINGS) {
    const before = new Set(binding.places(current));
    const added = binding.places(next).filter((p) => !before.has(p));
    if (added.length === 0) continue;
    for (const ref of binding.secrets) {
      const kept = valueOf(next, ref);
      if (typeof kept !== 'string' || kept === '') continue; // no secret goes anywhere
      const given = valueOf(change, ref);
      if (typeof given === 'string' && given.trim() !== '' && given !== MASK) continue;
      const field = `${ref[0]}.${ref[1]}`;
      reasons.set(field, [...(reasons.get(field) ?? []), binding.destination]);
    }
  }
  return [...reasons].map(([field, because]) => ({
    field,
    message:
      `must be given again in the same change, because ${because.join(' and ')} changed and the secret is sent there ` +
      '(or clear it with null)',
  }));
}
