/**
 * The simulated token service: app registrations (client secret and/or certificates, granted
 * application permissions), client-credentials tokens, and the checks Entra ID makes on a client
 * assertion (signature against a registered certificate, audience, issuer/subject, lifetime).
 * Access tokens are HMAC-signed JWTs carrying the app's roles, so Graph requests are checked
 * without a lookup; "expire every token" is a generation number bumped on demand.
 */
import { X509Certificate, constants, createHmac, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { sha256ThumbprintOf, thumbprintOf } from './certificates.js';

export interface SimulatedApp {
  clientId: string;
  clientSecret?: string;
  /** PEM certificates registered on the app (public part only). */
  certificates?: string[];
  /** Application permissions granted (admin-consented), e.g. User.Read.All. */
  roles?: string[];
}

export const ALL_READ_ROLES = ['User.Read.All', 'Group.Read.All', 'Organization.Read.All'];

export interface AccessTokenClaims {
  appid: string;
  tid: string;
  roles: string[];
  aud: string;
  exp: number;
  gen: number;
}

export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    description: string,
  ) {
    super(`AADSTS${aadsts}: ${description}`);
  }
}

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class TokenService {
  private readonly key = randomBytes(32);
  private generation = 0;
  private readonly apps = new Map<string, SimulatedApp>();
  /** Assertion ids (jti) seen, so a replayed assertion is refused as Entra ID does. */
  private readonly seenAssertions = new Set<string>();

  constructor(
    apps: SimulatedApp[],
    private readonly lifetimeSeconds: number,
  ) {
    for (const app of apps) this.apps.set(app.clientId.toLowerCase(), app);
  }

  /** Every token issued so far is now expired (the "expired token" fault). */
  expireAll(): void {
    this.generation++;
  }

  /**
   * Client-credentials grant. `tokenEndpoint` is the URL the assertion's `aud` must name;
   * `resource` is the Graph base URL the scope must name.
   */
  issue(form: URLSearchParams, tenantId: string, tokenEndpoint: string, resource: string) {
    if (form.get('grant_type') !== 'client_credentials') {
      throw new TokenError(
        400,
        'unsupported_grant_type',
        70003,
        'The app requested an unsupported grant type.',
      );
    }
    const clientId = (form.get('client_id') ?? '').toLowerCase();
    const app = this.apps.get(clientId);
    if (!app) {
      throw new TokenError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory.`,
      );
    }
    const scope = form.get('scope') ?? '';
    const scopes = scope.split(' ').filter(Boolean);
    if (!scopes.includes(`${resource}/.default`)) {
      throw new TokenError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!app.clientSecret || !safeEqual(secret, app.clientSecret)) {
        throw new TokenError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      }
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        throw new TokenError(400, 'invalid_request', 90014, 'client_assertion_type is missing or wrong.');
      }
      this.checkAssertion(app, assertion, tokenEndpoint);
    } else {
      throw new TokenError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const exp = Math.floor(Date.now() / 1000) + this.lifetimeSeconds;
    const claims: AccessTokenClaims = {
      appid: app.clientId,
      tid: tenantId,
      roles: app.roles ?? ALL_READ_ROLES,
      aud: resource,
      exp,
      gen: this.generation,
    };
    const body = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64(claims)}`;
    const signature = createHmac('sha256', this.key).update(body).digest('base64url');
    return {
      token_type: 'Bearer',
      expires_in: this.lifetimeSeconds,
      ext_expires_in: this.lifetimeSeconds,
      access_token: `${body}.${signature}`,
    };
  }

  /** The claims of a valid bearer token, or the reason it is not valid. */
  check(authorization: string | undefined): AccessTokenClaims | { invalid: string } {
    const match = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (!match) return { invalid: 'Access token is empty.' };
    const [header, payload, signature] = match[1]!.split('.');
    if (!header || !payload || !signature)
      return { invalid: 'Access token validation failure. Invalid audience.' };
    const expected = createHmac('sha256', this.key).update(`${header}.${payload}`).digest('base64url');
    if (!safeEqual(signature, expected)) return { invalid: 'Access token validation failure.' };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as AccessTokenClaims;
    if (claims.gen !== this.generation || claims.exp * 1000 < Date.now()) {
      return { invalid: 'Access token has expired or is not yet valid.' };
    }
    return claims;
  }

  private checkAssertion(app: SimulatedApp, assertion: string, tokenEndpoint: string): void {
    const fail = (code: number, why: string): never => {
      throw new TokenError(401, 'invalid_client', code, why);
    };
    const parts = assertion.split('.');
    if (parts.length !== 3) fail(50012, 'Client assertion is not a JWT.');
    const [h, p, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    } catch {
      return fail(50012, 'Client assertion is not a JWT.');
    }
    const certs = (app.certificates ?? []).map((pem) => ({
      pem,
      x5t: Buffer.from(thumbprintOf(pem), 'hex').toString('base64url'),
      x5tS256: sha256ThumbprintOf(pem),
    }));
    const cert = certs.find((c) => c.x5tS256 === header['x5t#S256'] || c.x5t === header.x5t);
    if (!cert) {
      fail(
        700027,
        'The certificate with identifier used to sign the client assertion is not registered on application.',
      );
    }
    const key = new X509Certificate(cert!.pem).publicKey;
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const ok =
      header.alg === 'PS256'
        ? verify(
            'sha256',
            data,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
            sig,
          )
        : header.alg === 'RS256'
          ? verify('sha256', data, key, sig)
          : false;
    if (!ok) fail(700027, 'Client assertion failed signature validation.');
    if (payload.aud !== tokenEndpoint)
      fail(
        700212,
        `No matching federated identity record found for presented assertion audience '${String(payload.aud)}'.`,
      );
    if (String(payload.iss).toLowerCase() !== app.clientId.toLowerCase() || payload.sub !== payload.iss) {
      fail(700023, 'Client assertion audience claim does not match Realm issuer.');
    }
    const now = Date.now() / 1000;
    if (typeof payload.exp !== 'number' || payload.exp < now)
      fail(700024, 'Client assertion is not within its valid time range.');
    const jti = String(payload.jti ?? '');
    if (jti) {
      if (this.seenAssertions.has(jti)) fail(700025, 'Client assertion contains an already used jti.');
      this.seenAssertions.add(jti);
    }
  }
}
