/**
 * Field encryption at rest: AES-256-GCM with a key from the environment. Each ciphertext carries the
 * id of the key that made it, so keys can rotate: new writes use the active (first) key, and every
 * key still listed decrypts what it made. The associated data binds a ciphertext to its tenant and
 * field, so a ciphertext copied into another field or tenant does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SyncError } from '../../domain/errors.js';
import type { Settings } from '../../domain/settings.js';

export const ENCRYPTION_KEYS_VARIABLE = 'M365SYNC_ENCRYPTION_KEYS';

/** How an encrypted field looks in MongoDB (no plaintext, no key: only the key's id). */
export interface EncryptedValue {
  alg: 'A256GCM';
  keyId: string;
  iv: string;
  tag: string;
  data: string;
}

export interface KeyRing {
  activeKeyId: string;
  /** Every key id listed, the active one first (ids only: never the keys). */
  keyIds: string[];
  encrypt(plaintext: string, context: string): EncryptedValue;
  decrypt(value: EncryptedValue, context: string): string;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The key ring of a read-only command run without M365SYNC_ENCRYPTION_KEYS: anything that would
 * encrypt or decrypt fails with ENCRYPTION_KEY, naming the variable; masked reads show the mask.
 */
export const LOCKED_KEY_RING: KeyRing = {
  activeKeyId: '',
  keyIds: [],
  encrypt() {
    throw new SyncError('ENCRYPTION_KEY', `${ENCRYPTION_KEYS_VARIABLE} is not set: this command needs it.`);
  },
  decrypt() {
    throw new SyncError('ENCRYPTION_KEY', `${ENCRYPTION_KEYS_VARIABLE} is not set: this command needs it.`);
  },
};

const HOW_TO =
  `Set ${ENCRYPTION_KEYS_VARIABLE} to one or more comma-separated keyId:key pairs, each key 32 random bytes in base64 ` +
  `(make one with: node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"). ` +
  'The first key encrypts new writes; keep older keys listed after it until everything is re-encrypted.';

/**
 * The key ring of M365SYNC_ENCRYPTION_KEYS (the process settings' value); a missing or malformed key
 * stops the process with a clear ENCRYPTION_KEY message that never shows key material.
 */
export function keyRingOf(settings: Pick<Settings, typeof ENCRYPTION_KEYS_VARIABLE>): KeyRing {
  const raw = settings[ENCRYPTION_KEYS_VARIABLE];
  if (!raw || raw.trim() === '') {
    throw new SyncError('ENCRYPTION_KEY', `${ENCRYPTION_KEYS_VARIABLE} is not set. ${HOW_TO}`);
  }
  const keys = new Map<string, Buffer>();
  raw.split(',').forEach((entry, index) => {
    const separator = entry.indexOf(':');
    const keyId = entry.slice(0, separator).trim();
    const encoded = entry.slice(separator + 1).trim();
    // Never echo the key material itself, only where the problem is.
    if (separator < 1 || !KEY_ID.test(keyId)) {
      throw new SyncError(
        'ENCRYPTION_KEY',
        `${ENCRYPTION_KEYS_VARIABLE} entry ${index + 1} has no valid key id before ':'. ${HOW_TO}`,
      );
    }
    const key = Buffer.from(encoded, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || key.length !== 32) {
      throw new SyncError(
        'ENCRYPTION_KEY',
        `${ENCRYPTION_KEYS_VARIABLE} key "${keyId}" is not 32 bytes of base64. ${HOW_TO}`,
      );
    }
    if (keys.has(keyId))
      throw new SyncError('ENCRYPTION_KEY', `${ENCRYPTION_KEYS_VARIABLE} lists key "${keyId}" twice.`);
    keys.set(keyId, key);
  });
  return createKeyRing(keys);
}

export function createKeyRing(keys: Map<string, Buffer>): KeyRing {
  const activeKeyId = keys.keys().next().value;
  if (activeKeyId === undefined) throw new SyncError('ENCRYPTION_KEY', `No encryption key. ${HOW_TO}`);
  return {
    activeKeyId,
    keyIds: [...keys.keys()],
    encrypt(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keys.get(activeKeyId)!, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return {
        alg: 'A256GCM',
        keyId: activeKeyId,
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        data: data.toString('base64'),
      };
    },
    decrypt(value, context) {
      const key = keys.get(value.keyId);
      if (!key) {
        throw new SyncError(
          'DECRYPTION_FAILED',
          `A stored secret (${context}) was encrypted with key "${value.keyId}", which ${ENCRYPTION_KEYS_VARIABLE} no longer lists. Add that key back after the active one.`,
        );
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(value.iv, 'base64'));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(Buffer.from(value.tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(value.data, 'base64')), decipher.final()]).toString(
          'utf8',
        );
      } catch (cause) {
        throw new SyncError(
          'DECRYPTION_FAILED',
          `A stored secret (${context}) does not decrypt with key "${value.keyId}": the data or the key is wrong.`,
          { cause },
        );
      }
    },
  };
}

export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return typeof value === 'object' && value !== null && (value as EncryptedValue).alg === 'A256GCM';
}
