/**
 * The tenant store: `relation/MicrosoftTenant` documents in the `tenants` collection, with the model's
 * groups and field names as they are, and the "Store Encrypted" fields replaced by their ciphertext.
 * Reads for people (`show`, `list`) come masked; only `getDecrypted` — for the worker, in memory —
 * returns secrets.
 */
import { MongoServerError, ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { SyncError, ValidationError } from '../../domain/errors.js';
import {
  MASK,
  maskTenant,
  mergeTenantInput,
  validateTenant,
  type Tenant,
  type TenantConfig,
  type TenantInput,
} from '../../domain/tenant.js';
import { ENCRYPTED_FIELDS, TENANT_GROUPS, fieldPath } from '../../domain/tenant-fields.js';
import { LOCKED_KEY_RING, isEncryptedValue, type KeyRing } from './encryption.js';

export const TENANTS_COLLECTION = 'tenants';

type TenantDocument = Record<string, unknown> & {
  _id: ObjectId;
  hierarchy: string;
  createdAt: Date;
  updatedAt: Date;
};

/** Checks a tenant's reference to a stored certificate (exists, thumbprint matches). */
export type CertificateCheck = (name: string) => Promise<{ thumbprint: string } | null>;

export class TenantRepository {
  private readonly collection: Collection<TenantDocument>;

  constructor(
    db: Db,
    private readonly keyRing: KeyRing,
    private readonly findCertificate: CertificateCheck,
  ) {
    this.collection = db.collection<TenantDocument>(TENANTS_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    // A tenant name is unique within its hierarchy place.
    await this.collection.createIndex(
      { hierarchy: 1, 'Tenant.name': 1 },
      { unique: true, name: 'hierarchy_name_unique' },
    );
  }

  async add(input: TenantInput): Promise<Tenant> {
    const config = validateTenant(input);
    await this.checkCertificate(config);
    const id = new ObjectId();
    const now = new Date();
    await this.write(() => this.collection.insertOne(this.toDocument(id, config, now, now)), config);
    return { id: id.toHexString(), ...config, createdAt: now, updatedAt: now };
  }

  /** Applies a partial change: fields left out keep their values, `null` clears one, a masked password is kept. */
  async update(ref: string, change: TenantInput): Promise<Tenant> {
    const current = await this.getDecrypted(ref);
    const config = validateTenant(mergeTenantInput(current, change));
    await this.checkCertificate(config);
    const id = new ObjectId(current.id);
    const now = new Date();
    // Re-encrypts every secret with the active key: an update also rotates the tenant's key.
    await this.write(
      () => this.collection.replaceOne({ _id: id }, this.toDocument(id, config, current.createdAt, now)),
      config,
    );
    return { id: current.id, ...config, createdAt: current.createdAt, updatedAt: now };
  }

  async remove(ref: string): Promise<Tenant> {
    const tenant = await this.show(ref);
    await this.collection.deleteOne({ _id: new ObjectId(tenant.id) });
    return tenant;
  }

  /** For people: password fields masked. */
  async show(ref: string): Promise<Tenant> {
    return maskTenant(this.fromDocument(await this.findDocument(ref), { forMasking: true }));
  }

  /** Tenants at a hierarchy place and below it, masked, ordered by place and name. */
  async list(options: { hierarchy?: string } = {}): Promise<Tenant[]> {
    const docs = await this.collection
      .find(hierarchyFilter(options.hierarchy))
      .sort({ hierarchy: 1, 'Tenant.name': 1 })
      .toArray();
    return docs.map((doc) => maskTenant(this.fromDocument(doc, { forMasking: true })));
  }

  /** For the worker only: the tenant with its secrets decrypted, in memory. */
  async getDecrypted(ref: string): Promise<Tenant> {
    return this.fromDocument(await this.findDocument(ref));
  }

  /** Names of the tenants that use a stored certificate (so it is not removed under them). */
  async usingCertificate(name: string): Promise<string[]> {
    const docs = await this.collection
      .find({ 'Microsoft 365.certificate_bkey': name }, { projection: { hierarchy: 1, 'Tenant.name': 1 } })
      .toArray();
    return docs.map((d) => `${d.hierarchy}/${(d.Tenant as { name: string }).name}`);
  }

  /**
   * Re-encrypts every tenant whose secrets were written under an older key. Returns how many
   * tenants changed. Safe to run again: tenants already on the active key are left alone.
   */
  async reencryptAll(): Promise<number> {
    let changed = 0;
    for await (const doc of this.collection.find({})) {
      const onOldKey = ENCRYPTED_FIELDS.some((f) => {
        const value = (doc[f.group] as Record<string, unknown> | undefined)?.[f.name];
        return isEncryptedValue(value) && value.keyId !== this.keyRing.activeKeyId;
      });
      if (!onOldKey) continue;
      const tenant = this.fromDocument(doc);
      await this.collection.replaceOne(
        { _id: doc._id },
        this.toDocument(doc._id, tenant, tenant.createdAt, tenant.updatedAt),
      );
      changed++;
    }
    return changed;
  }

  private async findDocument(ref: string): Promise<TenantDocument> {
    const filter: Filter<TenantDocument> =
      ObjectId.isValid(ref) && /^[0-9a-f]{24}$/i.test(ref)
        ? { _id: new ObjectId(ref) }
        : ref.includes('/')
          ? {
              hierarchy: ref.slice(0, ref.lastIndexOf('/')),
              'Tenant.name': ref.slice(ref.lastIndexOf('/') + 1),
            }
          : { 'Tenant.name': ref };
    const docs = await this.collection.find(filter).limit(2).toArray();
    if (docs.length === 0)
      throw new SyncError('NOT_FOUND', `No tenant "${ref}" (m365sync tenants list shows them).`);
    if (docs.length > 1) {
      throw new SyncError(
        'CONFLICT',
        `Several tenants are named "${ref}"; name it as <hierarchy>/<name> or by id.`,
      );
    }
    return docs[0]!;
  }

  private async checkCertificate(config: TenantConfig): Promise<void> {
    const m365 = config['Microsoft 365'];
    if (m365.client_secret || !m365.certificate_bkey) return;
    const certificate = await this.findCertificate(m365.certificate_bkey);
    if (!certificate) {
      throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
        {
          field: 'Microsoft 365.certificate_bkey',
          message: `names no stored certificate ("${m365.certificate_bkey}"); add it with m365sync certificates add`,
        },
      ]);
    }
    if (certificate.thumbprint.toUpperCase() !== m365.graph_api_certificate_thumbprint?.toUpperCase()) {
      throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
        {
          field: 'Microsoft 365.graph_api_certificate_thumbprint',
          message: `does not match the stored certificate "${m365.certificate_bkey}" (its thumbprint is ${certificate.thumbprint})`,
        },
      ]);
    }
  }

  private async write(operation: () => Promise<unknown>, config: TenantConfig): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (error instanceof MongoServerError && error.code === 11000) {
        throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
          { field: 'Tenant.name', message: `is already used by another tenant at ${config.hierarchy}` },
        ]);
      }
      throw error;
    }
  }

  private toDocument(id: ObjectId, config: TenantConfig, createdAt: Date, updatedAt: Date): TenantDocument {
    const doc: TenantDocument = { _id: id, hierarchy: config.hierarchy, createdAt, updatedAt };
    for (const group of TENANT_GROUPS) doc[group] = { ...(config[group] as Record<string, unknown>) };
    for (const field of ENCRYPTED_FIELDS) {
      const group = doc[field.group] as Record<string, unknown>;
      const value = group[field.name];
      if (typeof value === 'string')
        group[field.name] = this.keyRing.encrypt(value, secretContext(id, fieldPath(field)));
    }
    return doc;
  }

  /**
   * `forMasking`: the caller masks the result, so without the key (LOCKED_KEY_RING: a read-only
   * command) encrypted fields come out as the mask rather than failing.
   */
  private fromDocument(doc: TenantDocument, options: { forMasking?: boolean } = {}): Tenant {
    const locked = options.forMasking === true && this.keyRing === LOCKED_KEY_RING;
    const tenant: Record<string, unknown> = {
      id: doc._id.toHexString(),
      hierarchy: doc.hierarchy,
      createdAt: doc.createdAt,
      updatedAt: doc.updatedAt,
    };
    for (const group of TENANT_GROUPS) tenant[group] = { ...((doc[group] as Record<string, unknown>) ?? {}) };
    for (const field of ENCRYPTED_FIELDS) {
      const group = tenant[field.group] as Record<string, unknown>;
      const value = group[field.name];
      if (isEncryptedValue(value))
        group[field.name] = locked
          ? MASK
          : this.keyRing.decrypt(value, secretContext(doc._id, fieldPath(field)));
    }
    return tenant as unknown as Tenant;
  }
}

function secretContext(id: ObjectId, field: string): string {
  return `tenant:${id.toHexString()}:${field}`;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A place and everything below it: `a.b` matches `a.b` and `a.b.c`, not `a.bc`. */
export function hierarchyFilter(place: string | undefined): Filter<{ hierarchy: string }> {
  if (!place) return {};
  return { $or: [{ hierarchy: place }, { hierarchy: { $regex: `^${escapeRegex(place)}\\.` } }] };
}
