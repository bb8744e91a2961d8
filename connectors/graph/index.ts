/**
 * Microsoft Graph connector: what other code imports.
 */
export {
  createGraphConnector,
  type ConnectionCheck,
  type ConnectionTest,
  type GraphConnector,
  type GraphConnectorOptions,
  type GraphConnectorStats,
  type GraphItem,
  type GraphOrganization,
  type GraphRetryOptions,
  type PagesOptions,
} from './connector.js';
export type { GraphCertificate } from './credential.js';
export { GRAPH_DEFAULTS } from './defaults.js';
export { graphCaFromSettings, withNodeExtraCa } from './transport.js';
export {
  GRAPH_KINDS,
  USER_SELECT,
  GROUP_SELECT,
  TEAM_SELECT,
  LICENCE_SELECT,
  type GraphKind,
} from './kinds.js';
export type { GraphLimiterOptions } from './limiter.js';
export { stripODataAnnotations, parseRetryAfter } from './odata.js';
export {
  DELTA_KINDS,
  DELTA_SELECT,
  type DeltaKind,
  type DeltaPage,
  type DeltaReader,
  type DeltaRound,
} from './delta.js';
export { exchangeOrganization } from './exchange-organization.js';
