/**
 * The key canary: a small known text encrypted under each key the database knows, stored in
 * `key_canary`. Every process that opens the stores checks it at start-up, so a wrong
 * M365SYNC_ENCRYPTION_KEYS is a clear error at once instead of a failure at the first secret read
 * (or a healthy-looking API that cannot decrypt anything).
 *
 * A key id enters the canary only through an explicit step that proves a key the database already
 * has (`m365sync keys add`, `m365sync tenants reencrypt`): otherwise any command started with a
 * mistyped new key would record the mistake, the real key would be refused from then on, and the
 * process would encrypt new secrets under the mistyped one. A process never encrypts with a key
 * that has no canary. The one exception is a database with no canary at all (a new deployment):
 * there is no key to prove, and the first process that opens the stores to write records its key.
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

export interface KeyCanaryOptions {
  /**
   * On a database with no canary at all, record the active key as its first key: what a process
   * that writes does at start-up. Read-only commands pass false and record nothing.
   */
  recordFirstKey: boolean;
}

/**
 * The key canary of one process: `keyRing` is the process's key ring, guarded so that it refuses to
 * encrypt with a key that has no canary; `addActiveKey` is the explicit step that adds one.
 */
export class KeyCanary {
  /** Key ids of the ring whose canary is stored and decrypts. */
  private readonly verified = new Set<string>();
  readonly keyRing: KeyRing;

  private constructor(
    private readonly collection: Collection<CanaryDocument>,
    private readonly ring: KeyRing,
  ) {
    const verified = this.verified;
    this.keyRing = {
      activeKeyId: ring.activeKeyId,
      keyIds: ring.keyIds,
      decrypt: (value, context) => ring.decrypt(value, context),
      encrypt(plaintext, context) {
        if (!verified.has(ring.activeKeyId)) throw unknownKey(ring.activeKeyId);
        return ring.encrypt(plaintext, context);
      },
    };
  }

  /**
   * Checks the key ring against the stored canary (and, if asked, records a new database's first
   * key). Throws ENCRYPTION_KEY naming the variable and the key id, never the key.
   */
  static async open(db: Db, ring: KeyRing, options: KeyCanaryOptions): Promise<KeyCanary> {
    const canary = new KeyCanary(db.collection<CanaryDocument>(KEY_CANARY_COLLECTION), ring);
    const stored = await canary.check();
    if (stored === 0 && options.recordFirstKey) await canary.recordActive({ first: true });
    return canary;
  }

  /**
   * `m365sync keys add` and `tenants reencrypt`: records the active key's canary, once another key of
   * the ring has proved to be one the database was written with (or the database has no canary yet).
   * Returns false when the active key was already known.
   */
  async addActiveKey(): Promise<boolean> {
    const stored = await this.check();
    if (this.verified.has(this.ring.activeKeyId)) return false;
    await this.recordActive({ first: stored === 0 });
    // A first key recorded by another process at the same time (and listed here too): add after it.
    if (!this.verified.has(this.ring.activeKeyId)) await this.addActiveKey();
    return true;
  }

  /** Verifies every stored canary of a listed key; returns how many canaries the database holds. */
  private async check(): Promise<number> {
    const doc = await this.collection.findOne({ _id: CANARY_ID });
    const stored = Object.entries(doc?.keys ?? {}).filter(([, v]) => isEncryptedValue(v));
    const known = stored.filter(([id]) => this.ring.keyIds.includes(id));
    for (const [id, value] of known) {
      let text: string | undefined;
      try {
        text = this.ring.decrypt(value, CONTEXT);
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
      this.verified.add(id);
    }
    if (stored.length > 0 && known.length === 0) {
      throw new SyncError(
        'ENCRYPTION_KEY',
        `None of the keys in ${ENCRYPTION_KEYS_VARIABLE} (${this.ring.keyIds.join(', ')}) is one this database was written with ` +
          `(${stored.map(([id]) => id).join(', ')}). When rotating, list the new key first and keep the old one after it ` +
          'until m365sync tenants reencrypt has run.',
      );
    }
    return stored.length;
  }

  /**
   * Stores the active key's canary. The first key only while the database has none (two new
   * deployments' processes racing with different keys: one wins, the other is refused by the check);
   * a later key only while its id has none (two `keys add` with different keys: the same).
   */
  private async recordActive({ first }: { first: boolean }): Promise<void> {
    const id = this.ring.activeKeyId;
    const value = this.ring.encrypt(CANARY_TEXT, CONTEXT);
    if (first) {
      try {
        await this.collection.insertOne({ _id: CANARY_ID, keys: { [id]: value } });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        // A document without any key (left by an earlier version) counts as no canary.
        await this.collection.updateOne({ _id: CANARY_ID, keys: {} }, { $set: { [`keys.${id}`]: value } });
      }
    } else {
      await this.collection.updateOne(
        { _id: CANARY_ID, [`keys.${id}`]: { $exists: false } },
        { $set: { [`keys.${id}`]: value } },
      );
    }
    // Another process may have written first: check what is stored.
    await this.check();
  }
}

function unknownKey(id: string): SyncError {
  return new SyncError(
    'ENCRYPTION_KEY',
    `${ENCRYPTION_KEYS_VARIABLE} key "${id}" is new to this database (it has no key canary), so nothing is encrypted with it. ` +
      `Add it with "m365sync keys add" (or "m365sync tenants reencrypt"), run with ${ENCRYPTION_KEYS_VARIABLE} listing "${id}" ` +
      'first and a key the database already has after it; then restart this process.',
  );
}
