/**
 * What the connector reads besides collections: /organization (the tenant's id, name and initial
 * domain) and "Test connection" (a token, then one small read per permission the pull needs, each
 * reported on its own).
 */
import { printable } from '../../domain/actor.js';
import { SyncError } from '../../domain/errors.js';
import type { ConnectionCheck, ConnectionTest, GraphOrganization } from './connector.js';
import type { TokenSource } from './credential.js';
import type { GetJson } from './get-json.js';
import { isGraphCollection } from './pager.js';
import type { GraphItem } from './types.js';

/** Organisation names are shown to operators: control characters escaped, and not too long. */
function displayText(value: unknown): string {
  return printable(String(value)).slice(0, 256);
}

export async function readOrganization(
  getJson: GetJson,
  graphRoot: string,
  s: AbortSignal,
): Promise<GraphOrganization> {
  const body = (await getJson(
    `${graphRoot}/organization?$select=id,displayName,verifiedDomains`,
    '/organization',
    s,
  )) as { value?: GraphItem[] } | undefined;
  const org = body?.value?.[0];
  if (!org) {
    throw new SyncError(
      'GRAPH_REQUEST',
      'Graph /organization answered without an organization; is graph_base_url a Graph endpoint?',
    );
  }
  const domains = Array.isArray(org.verifiedDomains) ? (org.verifiedDomains as GraphItem[]) : [];
  const initial = domains.find((d) => d.isInitial === true && typeof d.name === 'string');
  return {
    id: String(org.id),
    displayName: String(org.displayName),
    ...(initial ? { initialDomain: String(initial.name) } : {}),
  };
}

export async function testGraphConnection(o: {
  getJson: GetJson;
  tokens: Pick<TokenSource, 'get'>;
  graphRoot: string;
  endpoints: { graphBaseUrl: string; authorityHost: string };
  signal: AbortSignal;
}): Promise<ConnectionTest> {
  const { getJson, graphRoot, endpoints, signal: s } = o;
  const started = performance.now();
  await o.tokens.get(s);
  const checks: ConnectionCheck[] = [];
  let organization: ConnectionTest['organization'];
  const probes: [string, string, string][] = [
    ['/organization', '/organization?$select=id,displayName', 'Organization.Read.All'],
    ['/users', '/users?$top=1&$select=id', 'User.Read.All'],
    ['/groups', '/groups?$top=1&$select=id', 'Group.Read.All'],
    ['/subscribedSkus', '/subscribedSkus?$select=skuId', 'Organization.Read.All'],
  ];
  for (const [endpoint, pathAndQuery, permission] of probes) {
    try {
      const body = (await getJson(`${graphRoot}${pathAndQuery}`, endpoint, s)) as { value?: GraphItem[] };
      if (!isGraphCollection(body)) {
        throw new SyncError(
          'GRAPH_REQUEST',
          `Graph ${endpoint} answered with something that is not a Graph collection; is graph_base_url a Graph endpoint?`,
        );
      }
      if (endpoint === '/organization' && body.value[0]) {
        organization = {
          id: displayText(body.value[0].id),
          displayName: displayText(body.value[0].displayName),
        };
      }
      checks.push({ endpoint, permission, ok: true });
    } catch (error) {
      if (!(error instanceof SyncError) || error.code === 'CANCELLED' || error.code === 'AUTHENTICATION')
        throw error;
      checks.push({ endpoint, permission, ok: false, code: error.code, message: error.message });
    }
  }
  return {
    ok: checks.every((c) => c.ok),
    graphBaseUrl: endpoints.graphBaseUrl,
    authorityHost: endpoints.authorityHost,
    ...(organization ? { organization } : {}),
    checks,
    durationMs: Math.round(performance.now() - started),
  };
}
