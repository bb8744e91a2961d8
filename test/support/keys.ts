import { randomBytes } from 'node:crypto';

/** A fresh `keyId:base64` entry for M365SYNC_ENCRYPTION_KEYS. */
export function keyEntry(keyId: string): string {
  return `${keyId}:${randomBytes(32).toString('base64')}`;
}
