/**
 * Certificates for one run of the simulated tenant: a throwaway CA and a server certificate it signs
 * for 127.0.0.1, ::1 and localhost (and any other address the simulator listens on). Clients trust the CA (the connector's `ca` option, or
 * NODE_EXTRA_CA_CERTS), never "insecure" mode, so TLS is checked exactly as it is against Microsoft.
 * Also makes app certificates for the certificate flow (what an operator uploads to the app registration).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { generate } from 'selfsigned';

export interface ServerTls {
  /** PEM of the CA that signed the server certificate: what a client must trust. */
  ca: string;
  cert: string;
  key: string;
}

export interface AppCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** SHA-1 thumbprint, 40 upper-case hex digits, as the Azure portal shows it. */
  thumbprint: string;
}

function inDays(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}

/** `extraIps`: addresses besides loopback the certificate must name (a simulator listening on them). */
export async function generateServerTls(extraIps: readonly string[] = []): Promise<ServerTls> {
  const ca = await generate([{ name: 'commonName', value: 'm365sync simulated tenant CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: inDays(30),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: inDays(30),
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          ...extraIps.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { ca: ca.cert, cert: leaf.cert, key: leaf.private };
}

/** A self-signed certificate with its private key, as an app registration's credential. */
export async function generateAppCertificate(name = 'm365sync graph app'): Promise<AppCertificate> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: inDays(365),
  });
  return {
    certificatePem: pems.cert,
    privateKeyPem: pems.private,
    thumbprint: thumbprintOf(pems.cert),
  };
}

export function thumbprintOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint.replace(/:/g, '').toUpperCase();
}

/** base64url SHA-256 of the DER certificate: the `x5t#S256` header MSAL puts in a client assertion. */
export function sha256ThumbprintOf(certificatePem: string): string {
  return createHash('sha256').update(new X509Certificate(certificatePem).raw).digest('base64url');
}
