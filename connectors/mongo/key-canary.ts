/**
 * The key canary: a small known text encrypted under each key the database has been used with,
 * stored in `key_canary`. Every process that opens the stores checks it at start-up, so a wrong
 * M365SYNC_ENCRYPTION_KEYS is a clear error at once instead of a failure at the first secret read
 * (or a healthy-looking API that cannot decrypt anything).
 */
import { type Collection, type Db } from 'mongodb';
import { SyncError } from '../../domain/errors.js';
import {
  ENCRYPTION_KEYS_VARIABLE,
  isEncryptedValue,
  type EncryptedValue,
  type KeyRing,
} from './encryption.js';
import { isDuplicateKey } from './duplicate-key.js';

export const KEY_CANARY_COLLECTION = 'key_canary';
const CANARY_ID = 'encryption-keys';
const CANARY_TEXT = 'm365sync key canary';
const CONTEXT = 'key-canary';

interface CanaryDocument {
  _id: string;
  /** keyId → the canary text encrypted with that key. */
  keys: Record<string, EncryptedValue>;
}

/**
 * Checks the key ring against the canary, and records the active key's canary on first use. Throws
 * ENCRYPTION_KEY naming the variable and the key id, never the key.
 */
export async function checkKeyCanary(db: Db, keyRing: KeyRing): Promise<void> {
  const collection: Collection<CanaryDocument> = db.collection<CanaryDocument>(KEY_CANARY_COLLECTION);
  try {
    await collection.insertOne({ _id: CANARY_ID, keys: {} });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const doc = await collection.findOne({ _id: CANARY_ID });
  const stored = Object.entries(doc?.keys ?? {}).filter(([, v]) => isEncryptedValue(v));
  const known = stored.filter(([id]) => keyRing.keyIds.includes(id));
  for (const [id, value] of known) {
    let text: string | undefined;
    try {
      text = keyRing.decrypt(value, CONTEXT);
    } catch {
      text = undefined;
    }
    if (text !== CANARY_TEXT) {
      throw new SyncError(
        'ENCRYPTION_KEY',
        `${ENCRYPTION_KEYS_VARIABLE} key "${id}" is not the key this database was written with (its key canary does not decrypt). ` +
          `Set ${ENCRYPTION_KEYS_VARIABLE} to the right key; nothing was read or written.`,
      );
    }
  }
  if (stored.length > 0 && known.length === 0) {
    throw new SyncError(
      'ENCRYPTION_KEY',
      `None of the keys in ${ENCRYPTION_KEYS_VARIABLE} (${keyRing.keyIds.join(', ')}) is one this database was written with ` +
        `(${stored.map(([id]) => id).join(', ')}). When rotating, list the new key first and keep the old one after it ` +
        'until m365sync tenants reencrypt has run.',
    );
  }
  if (!known.some(([id]) => id === keyRing.activeKeyId)) {
    await collection.updateOne(
      { _id: CANARY_ID, [`keys.${keyRing.activeKeyId}`]: { $exists: false } },
      { $set: { [`keys.${keyRing.activeKeyId}`]: keyRing.encrypt(CANARY_TEXT, CONTEXT) } },
    );
    // Another process may have written this key id's canary first: check the one that is stored.
    await checkKeyCanary(db, keyRing);
  }
}
