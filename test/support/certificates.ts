import { generate } from 'selfsigned';

/** A fresh self-signed certificate and its private key, as PEM. */
export async function testCertificate(
  commonName = 'm365sync-test',
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const pems = await generate([{ name: 'commonName', value: commonName }], { keySize: 2048 });
  return { certificatePem: pems.cert, privateKeyPem: pems.private };
}
