/**
 * Webhook subscriptions (collection `webhooks`): a receiver URL, a scope in the customer hierarchy,
 * the run statuses it wants, and its signing secret encrypted at rest with the key ring (bound to the
 * subscription by the associated data, like a tenant's secrets). The secret leaves this store twice:
 * to whoever made the subscription, once, and to the delivery worker, which signs with it. Listing
 * and showing never decrypt it.
 */
import { ObjectId, type Collection, type Db } from 'mongodb';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { ALL_SCOPES, scopeCovers } from '../../domain/access.js';
import { SyncError, ValidationError } from '../../domain/errors.js';
import {
  generateWebhookSecret,
  parseWebhookRequest,
  webhookDestinationProblem,
  type WebhookFilter,
  type WebhookStatus,
} from '../../domain/webhooks.js';
import type { AllowedDestinationStore } from './destinations.js';
import type { EncryptedValue, KeyRing } from './encryption.js';
import { insertUnique } from './duplicate-key.js';

export const WEBHOOKS_COLLECTION = 'webhooks';

interface WebhookDocument {
  _id: ObjectId;
  name: string;
  url: string;
  scope: string;
  statuses: WebhookStatus[];
  description?: string;
  secret: EncryptedValue;
  createdAt: Date;
  createdBy: string;
}

/** A subscription as shown: everything but its secret. */
export interface Webhook {
  id: string;
  name: string;
  url: string;
  scope: string;
  statuses: WebhookStatus[];
  description?: string;
  createdAt: Date;
  createdBy: string;
}

const secretContext = (id: ObjectId | string) => `webhook:${String(id)}:secret`;

export class WebhookSubscriptionStore {
  readonly collection: Collection<WebhookDocument>;

  constructor(
    db: Db,
    private readonly keyRing: KeyRing,
    private readonly destinations: AllowedDestinationStore,
  ) {
    this.collection = db.collection<WebhookDocument>(WEBHOOKS_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    // A name is unique within its scope, not across scopes: refusing a name used in a scope the
    // creator cannot see would tell them it exists there. (Databases made before had it global.)
    await this.collection
      .dropIndex('name_unique')
      .catch(ignoreBecause('only databases made before have the global name index'));
    await this.collection.createIndex({ scope: 1, name: 1 }, { unique: true, name: 'scope_name_unique' });
  }

  /**
   * Makes a subscription. A generated secret is returned (`secret`): the only time it is shown; a
   * given one is not echoed. `within`: the scope of whoever asks, which the subscription's scope must
   * lie in (and defaults to).
   */
  async create(
    input: unknown,
    createdBy: string,
    options: { within?: string } = {},
  ): Promise<Webhook & { secret?: string }> {
    const within = options.within ?? ALL_SCOPES;
    const request = parseWebhookRequest(input, within);
    if (!scopeCovers(within, request.scope))
      throw new ValidationError('Webhook', [
        { field: 'scope', message: `must be ${within} or a place under it (the scope of this token)` },
      ]);
    const used = () =>
      new ValidationError('Webhook', [
        { field: 'name', message: `"${request.name}" is already used by a webhook` },
      ]);
    // New among the subscriptions the creator can see (and in its own scope).
    const sameName = await this.collection
      .find({ name: request.name }, { projection: { scope: 1 } })
      .toArray();
    if (sameName.some((d) => scopeCovers(within, d.scope) || d.scope === request.scope)) throw used();
    const refused = webhookDestinationProblem(request.url, await this.destinations.entries());
    if (refused) throw new ValidationError('Webhook', [{ field: 'url', message: refused }]);
    const secret = request.secret ?? generateWebhookSecret();
    const _id = new ObjectId();
    const doc: WebhookDocument = {
      _id,
      name: request.name,
      url: request.url,
      scope: request.scope,
      statuses: request.statuses,
      ...(request.description ? { description: request.description } : {}),
      secret: this.keyRing.encrypt(secret, secretContext(_id)),
      createdAt: new Date(),
      createdBy,
    };
    await insertUnique(this.collection, doc, used);
    return { ...toWebhook(doc), ...(request.secret === undefined ? { secret } : {}) };
  }

  /** Subscriptions whose scope lies within `within` (all of them by default), oldest first. */
  async list(options: { within?: string } = {}): Promise<Webhook[]> {
    const docs = await this.collection
      .find({}, { projection: { secret: 0 } })
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.filter((d) => scopeCovers(options.within ?? ALL_SCOPES, d.scope)).map(toWebhook);
  }

  /** What each subscription wants to hear of (the dispatcher's filter), decrypting nothing. */
  async filters(): Promise<(WebhookFilter & { id: string })[]> {
    const docs = await this.collection
      .find({}, { projection: { scope: 1, statuses: 1, createdAt: 1 } })
      .toArray();
    return docs.map((d) => ({
      id: d._id.toHexString(),
      scope: d.scope,
      statuses: d.statuses,
      createdAt: d.createdAt,
    }));
  }

  /** One subscription by name or id; outside `within` it is "not found", like one that is not there. */
  async get(ref: string, options: { within?: string } = {}): Promise<Webhook> {
    const docs = (await this.collection.find(refFilter(ref), { projection: { secret: 0 } }).toArray()).filter(
      (d) => scopeCovers(options.within ?? ALL_SCOPES, d.scope),
    );
    const doc = docs[0];
    if (!doc) throw new SyncError('NOT_FOUND', `No webhook "${ref}" (m365sync webhooks list shows them).`);
    if (docs.length > 1)
      throw new SyncError(
        'CONFLICT',
        `${docs.length} webhooks are named "${ref}" (in scopes ${docs.map((d) => d.scope).join(', ')}): give the id (m365sync webhooks list shows it).`,
      );
    return toWebhook(doc);
  }

  async remove(ref: string, options: { within?: string } = {}): Promise<Webhook> {
    const webhook = await this.get(ref, options);
    await this.collection.deleteOne({ _id: new ObjectId(webhook.id) });
    return webhook;
  }

  /** The subscription with its secret decrypted, for the delivery worker; null once removed. */
  async withSecret(id: string): Promise<(Webhook & { secret: string }) | null> {
    if (!/^[0-9a-f]{24}$/i.test(id)) return null;
    const doc = await this.collection.findOne({ _id: new ObjectId(id) });
    return doc
      ? { ...toWebhook(doc), secret: this.keyRing.decrypt(doc.secret, secretContext(doc._id)) }
      : null;
  }

  /** Re-encrypts every secret still under an older key with the active key; returns their names. */
  async reencryptAll(): Promise<string[]> {
    const changed: string[] = [];
    for await (const doc of this.collection.find({})) {
      if (doc.secret.keyId === this.keyRing.activeKeyId) continue;
      const context = secretContext(doc._id);
      const secret = this.keyRing.encrypt(this.keyRing.decrypt(doc.secret, context), context);
      await this.collection.updateOne({ _id: doc._id }, { $set: { secret } });
      changed.push(doc.name);
    }
    return changed;
  }
}

function refFilter(ref: string): { _id: ObjectId } | { name: string } {
  return /^[0-9a-f]{24}$/i.test(ref) ? { _id: new ObjectId(ref) } : { name: ref };
}

function toWebhook(doc: Omit<WebhookDocument, 'secret'>): Webhook {
  return {
    id: doc._id.toHexString(),
    name: doc.name,
    url: doc.url,
    scope: doc.scope,
    statuses: doc.statuses,
    ...(doc.description ? { description: doc.description } : {}),
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
  };
}
