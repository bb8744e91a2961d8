/**
 * Where a tenant's requests may go. The Graph and sign-in hosts of the national clouds are always
 * allowed; any other Graph or authority host, every PowerShell proxy, every outbound HTTP proxy and
 * every webhook receiver needs an entry in an admin-managed allow-list (`m365sync destinations allow`). An entry is a host
 * name, an address or a CIDR range, a name or address optionally with a port. These rules are pure;
 * connectors/mongo/destinations.ts stores the entries.
 */
import { BlockList, isIP } from 'node:net';
import { NATIONAL_CLOUDS } from './cloud.js';
import { ValidationError, type FieldProblem } from './errors.js';
import { parsePowerShellHosts } from './powershell-hosts.js';
import type { TenantConfig } from './tenant.js';

export const DESTINATION_KINDS = ['graph', 'powershell', 'http_proxy', 'webhook'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const DESTINATION_KIND_MEANING: Record<DestinationKind, string> = {
  graph: 'a Graph or sign-in (authority) host other than the national clouds',
  powershell: 'a PowerShell proxy (Microsoft Teams Powershell.hostName)',
  http_proxy: 'an outbound HTTP proxy for Graph (Microsoft 365.https_proxy / http_proxy)',
  webhook: 'the receiver of a webhook subscription (m365sync webhooks add --url)',
};

/** One allow-list entry, parsed. */
export interface AllowEntry {
  kind: DestinationKind;
  /** As stored and shown: lower-case, normalised (`10.0.0.0/8`, `ps1.example.net:5986`, `[::1]`). */
  entry: string;
  name?: string;
  address?: string;
  range?: { network: string; prefix: number; family: 'ipv4' | 'ipv6' };
  port?: number;
}

const NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function parsePort(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535)
    throw new ValidationError('Allowed destination', [{ field, message: `has an invalid port "${text}"` }]);
  return port;
}

/** `ps1.example.net`, `ps1.example.net:5986`, `10.0.0.7`, `[fd00::7]:5985`, `10.0.0.0/8`, `fd00::/8`. */
export function parseAllowEntry(kind: string, text: string): AllowEntry {
  if (!(DESTINATION_KINDS as readonly string[]).includes(kind)) {
    throw new ValidationError('Allowed destination', [
      { field: 'kind', message: `must be one of ${DESTINATION_KINDS.join(', ')}` },
    ]);
  }
  const k = kind as DestinationKind;
  const raw = String(text ?? '')
    .trim()
    .toLowerCase();
  const bad = () =>
    new ValidationError('Allowed destination', [
      {
        field: 'entry',
        message:
          'must be a host name, an IP address or a CIDR range (e.g. ps1.example.net, 10.0.0.7:5986, 10.0.0.0/24)',
      },
    ]);
  const slash = raw.indexOf('/');
  if (slash > 0) {
    const network = raw.slice(0, slash);
    const prefixText = raw.slice(slash + 1);
    const fam = isIP(network);
    const prefix = Number(prefixText);
    if (fam === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > (fam === 4 ? 32 : 128)) throw bad();
    return {
      kind: k,
      entry: `${network}/${prefix}`,
      range: { network, prefix, family: family(network) },
    };
  }
  const bracketed = raw.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw bad();
    const port = parsePort(bracketed[2], 'entry');
    return {
      kind: k,
      entry: `[${bracketed[1]}]${port ? `:${port}` : ''}`,
      address: bracketed[1]!,
      ...(port ? { port } : {}),
    };
  }
  if (isIP(raw) === 6) return { kind: k, entry: `[${raw}]`, address: raw };
  const [host, portText, extra] = raw.split(':');
  if (extra !== undefined || !host) throw bad();
  const port = parsePort(portText, 'entry');
  const withPort = `${host}${port ? `:${port}` : ''}`;
  if (isIP(host) === 4) return { kind: k, entry: withPort, address: host, ...(port ? { port } : {}) };
  if (!NAME.test(host.replace(/\.$/, ''))) throw bad();
  return { kind: k, entry: withPort, name: host.replace(/\.$/, ''), ...(port ? { port } : {}) };
}

/** Loopback, private (RFC 1918, unique-local), link-local, CGNAT and unspecified addresses. */
const SPECIAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  SPECIAL.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  SPECIAL.addSubnet(network, prefix, 'ipv6');

function unmapped(address: string): string {
  const mapped = address.toLowerCase().match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  return mapped ? mapped[1]! : address;
}

/** Private, loopback or link-local: never reached unless an entry names the address or its range. */
export function isSpecialAddress(address: string): boolean {
  const a = unmapped(address);
  return isIP(a) !== 0 && SPECIAL.check(a, family(a));
}

function stripHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[/, '').replace(/\]$/, '').replace(/\.$/, '');
}

function rangeContains(entry: AllowEntry, address: string): boolean {
  if (!entry.range || isIP(address) === 0) return false;
  const list = new BlockList();
  list.addSubnet(entry.range.network, entry.range.prefix, entry.range.family);
  return list.check(address, family(address));
}

/** Does an entry of the list allow `host` (a name or an address) on `port`? */
export function isAllowed(
  kind: DestinationKind,
  host: string,
  port: number,
  entries: readonly AllowEntry[],
): boolean {
  const h = unmapped(stripHost(host));
  return entries.some((e) => {
    if (e.kind !== kind) return false;
    if (e.port !== undefined && e.port !== port) return false;
    if (e.name !== undefined) return isIP(h) === 0 && e.name === h;
    if (e.address !== undefined) return isIP(h) !== 0 && unmapped(e.address) === h;
    return rangeContains(e, h);
  });
}

/**
 * An address a name resolved to, right before connecting: a private, loopback or link-local address
 * needs its own entry (address or range), so a public name cannot be pointed into the provider's network.
 */
export function isResolvedAddressAllowed(
  kind: DestinationKind,
  address: string,
  port: number | undefined,
  entries: readonly AllowEntry[],
): boolean {
  if (!isSpecialAddress(address)) return true;
  const a = unmapped(address);
  return entries.some(
    (e) =>
      e.kind === kind &&
      (e.port === undefined || port === undefined || e.port === port) &&
      ((e.address !== undefined && unmapped(e.address) === a) || rangeContains(e, a)),
  );
}

const CLOUD_ORIGINS = new Set(
  Object.values(NATIONAL_CLOUDS).flatMap((c) => [
    new URL(c.graphBaseUrl).origin,
    new URL(c.authorityHost).origin,
  ]),
);

/**
 * A URL field that names an origin only: the scheme(s) given, no user or password, no path, query or
 * fragment. Parsed with `URL`. Returns the problem, or undefined when it is fine.
 */
export function originProblem(
  text: string,
  schemes: readonly ('https:' | 'http:')[],
  credentialsHint?: string,
): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be a URL like ${schemes[0]}//host:port/`;
  }
  if (!(schemes as readonly string[]).includes(url.protocol))
    return `must start with ${schemes.map((s) => `${s}//`).join(' or ')}`;
  if (url.username || url.password)
    return credentialsHint ?? 'must not hold a user or password (user@host is not allowed)';
  if (text.includes('?') || text.includes('#') || url.pathname !== '/')
    return 'must name a host and port only: no path, "?" or "#"';
  return undefined;
}

/** The port a URL reaches (its own, else the scheme's). */
function urlPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** One place a tenant sends requests to, with the field that names it. */
export interface TenantDestination {
  kind: DestinationKind;
  field: string;
  host: string;
  port: number;
  /** A national cloud's own host: allowed without an entry. */
  nationalCloud?: boolean;
}

/**
 * Every place the tenant's configuration sends requests to. `powershellDefaultPort` is the WinRM
 * port when a host gives none (5986 for HTTPS, the default; 5985 for HTTP).
 */
export function tenantDestinations(c: TenantConfig, powershellDefaultPort = 5986): TenantDestination[] {
  const out: TenantDestination[] = [];
  const m365 = c['Microsoft 365'];
  for (const name of ['graph_base_url', 'authority_host'] as const) {
    const value = m365[name];
    if (!value) continue;
    const url = new URL(value);
    out.push({
      kind: 'graph',
      field: `Microsoft 365.${name}`,
      host: url.hostname,
      port: urlPort(url),
      nationalCloud: CLOUD_ORIGINS.has(url.origin),
    });
  }
  for (const name of ['https_proxy', 'http_proxy'] as const) {
    const value = m365[name];
    if (!value) continue;
    const url = new URL(value);
    out.push({ kind: 'http_proxy', field: `Microsoft 365.${name}`, host: url.hostname, port: urlPort(url) });
  }
  for (const h of parsePowerShellHosts(c['Microsoft Teams Powershell'].hostName)) {
    out.push({
      kind: 'powershell',
      field: 'Microsoft Teams Powershell.hostName',
      host: h.host,
      port: h.port ?? powershellDefaultPort,
    });
  }
  return out;
}

/** The destinations of a tenant that no entry allows, each named by its field. */
export function destinationProblems(
  c: TenantConfig,
  entries: readonly AllowEntry[],
  powershellDefaultPort = 5986,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const d of tenantDestinations(c, powershellDefaultPort)) {
    if (d.nationalCloud || isAllowed(d.kind, d.host, d.port, entries)) continue;
    const shown = isIP(stripHost(d.host)) === 6 ? `[${stripHost(d.host)}]` : stripHost(d.host);
    problems.push({
      field: d.field,
      message:
        `${shown}:${d.port} is not an allowed destination` +
        (d.kind === 'graph' ? ' (not a national cloud host)' : '') +
        `; an administrator allows it with: m365sync destinations allow ${d.kind} ${shown}`,
    });
  }
  return problems;
}
