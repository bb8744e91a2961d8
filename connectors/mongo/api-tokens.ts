/**
 * The operator API's tokens (collection `api_tokens`): one document per token with its name, role
 * and scope and the SHA-256 of the token, never the token itself (it is shown once, at creation).
 * A revoked token keeps its document (marked `revokedAt`) so its name, recorded on runs and
 * approvals, is never given to another token.
 */
import { ObjectId, type Collection, type Db } from 'mongodb';
import {
  generateToken,
  hashToken,
  parseTokenRequest,
  scopeCovers,
  type Caller,
  type Role,
} from '../../domain/access.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { insertUnique } from './duplicate-key.js';

export const API_TOKENS_COLLECTION = 'api_tokens';

interface TokenDocument {
  _id: ObjectId;
  name: string;
  role: Role;
  scope: string;
  hash: string;
  createdAt: Date;
  createdBy: string;
  revokedAt?: Date;
  revokedBy?: string;
}

/** A token as listed: everything but the token and its hash. */
export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  scope: string;
  createdAt: Date;
  createdBy: string;
  revokedAt?: Date;
  revokedBy?: string;
}

export class ApiTokenStore {
  readonly collection: Collection<TokenDocument>;

  constructor(db: Db) {
    this.collection = db.collection<TokenDocument>(API_TOKENS_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ hash: 1 }, { unique: true, name: 'hash_unique' });
    // A name is unique within its scope, not across scopes: refusing a name used in a scope the
    // creator cannot see would tell them it exists there. (Databases made before had it global.)
    await this.collection
      .dropIndex('name_unique')
      .catch(ignoreBecause('only databases made before have the global name index'));
    await this.collection.createIndex({ scope: 1, name: 1 }, { unique: true, name: 'scope_name_unique' });
  }

  /**
   * Creates a token; the returned `token` is the only time it exists outside the caller's hands.
   * `within`: the creator's scope; its name must be new among the tokens the creator can see.
   */
  async create(
    input: { name?: unknown; role?: unknown; scope?: unknown },
    createdBy: string,
    options: { within?: string } = {},
  ): Promise<ApiToken & { token: string }> {
    const { name, role, scope } = parseTokenRequest(input);
    const used = () =>
      new ValidationError('Token', [
        { field: 'name', message: `"${name}" is already used by a token (names of revoked tokens too)` },
      ]);
    const sameName = await this.collection.find({ name }, { projection: { scope: 1 } }).toArray();
    if (sameName.some((d) => visible(options.within, d.scope) || d.scope === scope)) throw used();
    const token = generateToken();
    const doc: TokenDocument = {
      _id: new ObjectId(),
      name,
      role,
      scope,
      hash: hashToken(token),
      createdAt: new Date(),
      createdBy,
    };
    await insertUnique(this.collection, doc, used);
    return { ...toToken(doc), token };
  }

  /** Tokens whose scope lies within `scope` (all of them for `*`), oldest first. */
  async list(options: { within?: string; includeRevoked?: boolean } = {}): Promise<ApiToken[]> {
    const docs = await this.collection
      .find(options.includeRevoked ? {} : { revokedAt: { $exists: false } })
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.filter((d) => visible(options.within, d.scope)).map(toToken);
  }

  /** Revokes a token by name or id; with `within`, a token outside that scope is "not found". */
  async revoke(ref: string, revokedBy: string, options: { within?: string } = {}): Promise<ApiToken> {
    const filter =
      ObjectId.isValid(ref) && /^[0-9a-f]{24}$/i.test(ref) ? { _id: new ObjectId(ref) } : { name: ref };
    const docs = (await this.collection.find({ ...filter, revokedAt: { $exists: false } }).toArray()).filter(
      (d) => visible(options.within, d.scope),
    );
    const doc = docs[0];
    if (!doc) throw new SyncError('NOT_FOUND', `No active token "${ref}" (m365sync tokens list shows them).`);
    if (docs.length > 1)
      throw new SyncError(
        'CONFLICT',
        `${docs.length} active tokens are named "${ref}" (in scopes ${docs.map((d) => d.scope).join(', ')}): give the id (m365sync tokens list shows it).`,
      );
    const revokedAt = new Date();
    await this.collection.updateOne({ _id: doc._id }, { $set: { revokedAt, revokedBy } });
    return toToken({ ...doc, revokedAt, revokedBy });
  }

  /** The caller a presented token stands for, or null when it is unknown or revoked. */
  async authenticate(token: string): Promise<Caller | null> {
    return this.authenticateHash(hashToken(token));
  }

  /**
   * The caller of a token known by its SHA-256 only (a console session keeps that, never the token),
   * or null once it is revoked.
   */
  async authenticateHash(hash: string): Promise<Caller | null> {
    const doc = await this.collection.findOne({ hash, revokedAt: { $exists: false } });
    return doc ? { id: doc._id.toHexString(), name: doc.name, role: doc.role, scope: doc.scope } : null;
  }

  /** How many tokens can sign in (the API refuses to start with none and no bootstrap token). */
  async countActive(): Promise<number> {
    return this.collection.countDocuments({ revokedAt: { $exists: false } });
  }
}

/** Whether a token of `scope` is one whoever has scope `within` may see (undefined: everyone). */
function visible(within: string | undefined, scope: string): boolean {
  return within === undefined || scopeCovers(within, scope);
}

function toToken(doc: TokenDocument): ApiToken {
  return {
    id: doc._id.toHexString(),
    name: doc.name,
    role: doc.role,
    scope: doc.scope,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    ...(doc.revokedAt ? { revokedAt: doc.revokedAt } : {}),
    ...(doc.revokedBy ? { revokedBy: doc.revokedBy } : {}),
  };
}
