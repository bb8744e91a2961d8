/**
 * The tenant's app-only credential (client secret, or certificate when there is no secret) and a token
 * source that caches the access token, renews it before it expires and, when Graph rejects it with a
 * 401, gets a brand-new one (a fresh credential, so MSAL's cache cannot hand back the rejected token).
 */
import { X509Certificate } from 'node:crypto';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  type AccessToken,
  type TokenCredential,
} from '@azure/identity';
import type { HttpClient } from '@azure/core-rest-pipeline';
import { SyncError } from '../../domain/errors.js';
import { graphEndpoints } from '../../domain/cloud.js';
import type { TenantConfig } from '../../domain/tenant.js';
import { GRAPH_DEFAULTS } from './defaults.js';
import { graphTokenRenewals } from './metrics.js';

/** A stored certificate with its private key, as the certificate store hands it over (decrypted). */
export interface GraphCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

export function createCredential(
  tenant: TenantConfig,
  certificate: GraphCertificate | undefined,
  httpClient: HttpClient,
): TokenCredential {
  const m365 = tenant['Microsoft 365'];
  const { authorityHost } = graphEndpoints(tenant);
  const options = {
    authorityHost,
    // Never ask login.microsoftonline.com which authorities exist: the authority is the one configured
    // (a national cloud or the simulator), and nothing else is contacted.
    disableInstanceDiscovery: true,
    httpClient,
    // Token requests are few; two quick retries for a blip, the job's own retry does the rest.
    retryOptions: { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 4000 },
  };
  if (m365.client_secret) {
    return new ClientSecretCredential(m365.tenant_id, m365.client_id, m365.client_secret, options);
  }
  if (!certificate) {
    throw new SyncError(
      'CONFIGURATION',
      `Tenant ${JSON.stringify(tenant.Tenant.name)} has no client secret, so Graph signs in with the certificate ` +
        `${JSON.stringify(m365.certificate_bkey ?? '')}, but no stored certificate was loaded: upload it to the certificate store or set Microsoft 365.client_secret.`,
    );
  }
  let thumbprint: string;
  try {
    thumbprint = new X509Certificate(certificate.certificatePem).fingerprint.replace(/:/g, '');
  } catch {
    throw new SyncError(
      'CONFIGURATION',
      `The stored certificate ${JSON.stringify(m365.certificate_bkey ?? '')} is not a PEM X.509 certificate: upload it again.`,
    );
  }
  const wanted = m365.graph_api_certificate_thumbprint;
  if (wanted && wanted.toUpperCase() !== thumbprint.toUpperCase()) {
    throw new SyncError(
      'CONFIGURATION',
      `The stored certificate ${JSON.stringify(m365.certificate_bkey ?? '')} has thumbprint ${thumbprint}, but ` +
        `Microsoft 365.graph_api_certificate_thumbprint is ${wanted}: point certificate_bkey at the right certificate or correct the thumbprint.`,
    );
  }
  return new ClientCertificateCredential(
    m365.tenant_id,
    m365.client_id,
    { certificate: `${certificate.certificatePem.trim()}\n${certificate.privateKeyPem.trim()}\n` },
    options,
  );
}

export interface TokenSourceOptions {
  scope: string;
  makeCredential: () => TokenCredential;
  /**
   * Renew this long before expiry, as MSAL does.
   * @default GRAPH_DEFAULTS.refreshMarginMs (5 minutes)
   */
  refreshMarginMs?: number;
  /** Turns a credential failure into an operator-facing error (no secret in it). */
  describeFailure: (error: unknown) => SyncError;
}

export class TokenSource {
  private credential: TokenCredential;
  private token: AccessToken | undefined;
  private inFlight: Promise<string> | undefined;
  private readonly margin: number;

  constructor(private readonly options: TokenSourceOptions) {
    this.credential = options.makeCredential();
    this.margin = options.refreshMarginMs ?? GRAPH_DEFAULTS.refreshMarginMs;
  }

  /** A token valid for a while yet: the cached one, or a new one when it is close to expiry. */
  get(signal?: AbortSignal): Promise<string> {
    const token = this.token;
    const now = Date.now();
    if (
      token &&
      token.expiresOnTimestamp - this.margin > now &&
      !(token.refreshAfterTimestamp && token.refreshAfterTimestamp <= now)
    ) {
      return Promise.resolve(token.token);
    }
    return this.fetch(token ? 'expiring' : 'initial', signal);
  }

  /** Graph rejected `rejected`: throw away every cached token and get a new one (once per rejection). */
  renew(rejected: string, signal?: AbortSignal): Promise<string> {
    if (this.inFlight) return this.inFlight;
    if (this.token && this.token.token !== rejected) return Promise.resolve(this.token.token);
    this.token = undefined;
    this.credential = this.options.makeCredential();
    return this.fetch('rejected', signal);
  }

  private fetch(reason: 'initial' | 'expiring' | 'rejected', signal?: AbortSignal): Promise<string> {
    if (this.inFlight) return this.inFlight;
    const run = async () => {
      try {
        const token = await this.credential.getToken(
          this.options.scope,
          signal ? { abortSignal: signal } : {},
        );
        if (!token) throw new Error('the credential returned no token');
        // Within our margin, the credential may still hand back the token we hold (MSAL's own cache
        // renews on a clock rounded to seconds): only a new token counts as one obtained.
        if (token.token !== this.token?.token) graphTokenRenewals.inc({ reason });
        this.token = token;
        return token.token;
      } catch (error) {
        if (signal?.aborted) throw new SyncError('CANCELLED', 'The Graph sign-in was cancelled.');
        throw this.options.describeFailure(error);
      } finally {
        this.inFlight = undefined;
      }
    };
    this.inFlight = run();
    return this.inFlight;
  }
}
