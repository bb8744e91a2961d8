import type { Cloud } from './tenant-fields.js';
import type { TenantConfig } from './tenant.js';

/** Where a tenant's Graph and sign-in live: the national cloud's defaults, or the tenant's overrides. */
export interface GraphEndpoints {
  /** e.g. https://graph.microsoft.com (no trailing slash, no version) */
  graphBaseUrl: string;
  /** e.g. https://login.microsoftonline.com (no trailing slash) */
  authorityHost: string;
  /** The app-only scope follows the Graph base URL: `${graphBaseUrl}/.default`. */
  scope: string;
}

export const NATIONAL_CLOUDS: Record<Cloud, { graphBaseUrl: string; authorityHost: string }> = {
  global: { graphBaseUrl: 'https://graph.microsoft.com', authorityHost: 'https://login.microsoftonline.com' },
  usgov_high: {
    graphBaseUrl: 'https://graph.microsoft.us',
    authorityHost: 'https://login.microsoftonline.us',
  },
  usgov_dod: {
    graphBaseUrl: 'https://dod-graph.microsoft.us',
    authorityHost: 'https://login.microsoftonline.us',
  },
  china: {
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
  },
};

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function graphEndpoints(c: TenantConfig): GraphEndpoints {
  const m365 = c['Microsoft 365'];
  const cloud = NATIONAL_CLOUDS[m365.cloud ?? 'global'];
  const graphBaseUrl = trimSlash(m365.graph_base_url ?? cloud.graphBaseUrl);
  const authorityHost = trimSlash(m365.authority_host ?? cloud.authorityHost);
  return { graphBaseUrl, authorityHost, scope: `${graphBaseUrl}/.default` };
}
