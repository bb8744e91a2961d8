/**
 * The tenant store: `relation/MicrosoftTenant` documents in the `tenants` collection, with the model's
 * groups and field names as they are, and the "Store Encrypted" fields replaced by their ciphertext.
 * Reads for people (`show`, `list`) come masked; only `getDecrypted` — for the worker, in memory —
 * returns secrets.
 */
import { ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { SyncError, ValidationError } from '../../domain/errors.js';
import { destinationProblems } from '../../domain/destinations.js';
import { secretsToGiveAgain } from '../../domain/secret-bindings.js';
import {
  MASK,
  maskTenant,
  mergeTenantInput,
  migrateProxyCredentials,
  validateTenant,
  type Tenant,
  type TenantConfig,
  type TenantInput,
} from '../../domain/tenant.js';
import { ENCRYPTED_FIELDS, TENANT_GROUPS, fieldPath } from '../../domain/tenant-fields.js';
import { ALL_SCOPES, scopeCovers } from '../../domain/access.js';
import type { AllowedDestinationStore } from './destinations.js';
import { isEncryptedValue, type KeyRing } from './encryption.js';
import type { TenantRef } from './imported-objects.js';
import { isDuplicateKey } from './duplicate-key.js';

export const TENANTS_COLLECTION = 'tenants';

type TenantDocument = Record<string, unknown> & {
  _id: ObjectId;
  hierarchy: string;
  createdAt: Date;
  updatedAt: Date;
};

/**
 * Limits a call to the tenants under one place of the hierarchy (an API token's scope): a tenant
 * elsewhere is "not found", exactly as if it did not exist. Left out, or `*`: every tenant.
 */
export interface ScopeOption {
  scope?: string;
}

/** Finds the stored certificate a tenant at `hierarchy` may use (at its place or above), or null. */
export type CertificateCheck = (name: string, hierarchy: string) => Promise<{ thumbprint: string } | null>;

export class TenantStore {
  private readonly collection: Collection<TenantDocument>;

  /**
   * `destinations`: the allow-list every tenant's destinations are checked against (when saved and
   * before connecting); the process's one (connectors/mongo/stores.ts), its indexes made with the tenants'.
   */
  constructor(
    db: Db,
    private readonly keyRing: KeyRing,
    readonly destinations: AllowedDestinationStore,
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
    await this.destinations.ensureIndexes();
  }

  async add(input: TenantInput, options: ScopeOption = {}): Promise<Tenant> {
    const config = validateTenant(input);
    checkInScope(config, options.scope);
    await this.checkDestinations(config);
    await this.checkCertificate(config);
    const id = new ObjectId();
    const now = new Date();
    await this.write(() => this.collection.insertOne(this.toDocument(id, config, now, now)), config);
    return { id: id.toHexString(), ...config, createdAt: now, updatedAt: now };
  }

  /**
   * Applies a partial change: fields left out keep their values, `null` clears one, a masked password
   * is kept — except that a change sending a kept secret somewhere new (domain/secret-bindings.ts) is
   * refused unless it gives that secret again. The API, the CLI and direct use all come through here.
   */
  async update(ref: string, change: TenantInput, options: ScopeOption = {}): Promise<Tenant> {
    const current = await this.getDecrypted(ref, options);
    const config = validateTenant(mergeTenantInput(current, change));
    checkInScope(config, options.scope);
    const again = secretsToGiveAgain(current, config, change);
    if (again.length > 0) throw new ValidationError(`Tenant "${config.Tenant.name}"`, again);
    await this.checkDestinations(config);
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

  async remove(ref: string, options: ScopeOption = {}): Promise<Tenant> {
    const tenant = await this.show(ref, options);
    await this.collection.deleteOne({ _id: new ObjectId(tenant.id) });
    return tenant;
  }

  /** For people: password fields masked by presence (nothing is decrypted to show a tenant). */
  async show(ref: string, options: ScopeOption = {}): Promise<Tenant> {
    return this.fromDocumentMasked(await this.findDocument(ref, options.scope));
  }

  /** Tenants at a hierarchy place and below it (and within the scope), masked, ordered by place and name. */
  async list(options: { hierarchy?: string } & ScopeOption = {}): Promise<Tenant[]> {
    const docs = await this.collection
      .find(scopedFilter(hierarchyFilter(options.hierarchy), options.scope))
      .sort({ hierarchy: 1, 'Tenant.name': 1 })
      .toArray();
    return docs.map((doc) => this.fromDocumentMasked(doc));
  }

  /** The ids of the tenants a scope covers (for filtering runs by scope). */
  async idsInScope(scope: string): Promise<string[]> {
    const docs = await this.collection.find(scopedFilter({}, scope), { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id.toHexString());
  }

  /**
   * A tenant's id and place, reading nothing else (the worker and the scheduler's triggers, which
   * hold no key); null if there is no such tenant.
   */
  async ref(id: string): Promise<TenantRef | null> {
    if (!/^[0-9a-f]{24}$/i.test(id)) return null;
    const doc = await this.collection.findOne({ _id: new ObjectId(id) }, { projection: { hierarchy: 1 } });
    return doc ? { id: doc._id.toHexString(), hierarchy: doc.hierarchy ?? '' } : null;
  }

  /** The id and place of every tenant at a hierarchy place and below it (of all, without one). */
  async refs(hierarchy?: string): Promise<TenantRef[]> {
    const docs = await this.collection
      .find(hierarchyFilter(hierarchy) as Filter<TenantDocument>, { projection: { _id: 1, hierarchy: 1 } })
      .toArray();
    return docs.map((d) => ({ id: d._id.toHexString(), hierarchy: d.hierarchy ?? '' }));
  }

  /**
   * Of these tenants (of all, without ids), those with Graph credentials: a Microsoft 365 client id and
   * a client secret or a stored certificate (thumbprint and certificate name). The delta schedules
   * (queues/delta-schedules.ts) are for them only. Asked of the server as a filter, so the scheduler,
   * which holds no key, never reads a secret's ciphertext either: only ids come back.
   */
  async withGraphCredentials(ids?: readonly string[]): Promise<Set<string>> {
    const set = (field: string) => ({ [`Microsoft 365.${field}`]: { $exists: true, $nin: [null, ''] } });
    const filter: Record<string, unknown> = {
      ...set('client_id'),
      $or: [set('client_secret'), { ...set('graph_api_certificate_thumbprint'), ...set('certificate_bkey') }],
    };
    if (ids) {
      const valid = ids.filter((id) => /^[0-9a-f]{24}$/i.test(id));
      if (valid.length === 0) return new Set();
      filter._id = { $in: valid.map((id) => new ObjectId(id)) };
    }
    const docs = await this.collection
      .find(filter as Filter<TenantDocument>, { projection: { _id: 1 } })
      .toArray();
    return new Set(docs.map((d) => d._id.toHexString()));
  }

  /**
   * Every tenant's id, place, name and creation time (the staleness series, the console's fleet), at a
   * place and below it and within a scope when given, reading nothing else.
   */
  async summaries(
    options: { hierarchy?: string } & ScopeOption = {},
  ): Promise<(TenantRef & { name?: string; createdAt?: Date })[]> {
    const docs = await this.collection
      .find(scopedFilter(hierarchyFilter(options.hierarchy), options.scope), {
        projection: { hierarchy: 1, 'Tenant.name': 1, createdAt: 1 },
      })
      .toArray();
    return docs.map((d) => ({
      id: d._id.toHexString(),
      hierarchy: d.hierarchy ?? '',
      ...((d.Tenant as { name?: string } | undefined)?.name !== undefined
        ? { name: (d.Tenant as { name: string }).name }
        : {}),
      ...(d.createdAt ? { createdAt: d.createdAt } : {}),
    }));
  }

  /** The names of tenants by id, reading nothing else (webhook bodies); a removed tenant is left out. */
  async names(ids: readonly string[]): Promise<Map<string, string>> {
    const objectIds = [...new Set(ids)]
      .filter((id) => /^[0-9a-f]{24}$/i.test(id))
      .map((id) => new ObjectId(id));
    const docs = await this.collection
      .find({ _id: { $in: objectIds } }, { projection: { 'Tenant.name': 1 } })
      .toArray();
    return new Map(
      docs.flatMap((d) => {
        const name = (d.Tenant as { name?: string } | undefined)?.name;
        return name === undefined ? [] : [[d._id.toHexString(), name] as const];
      }),
    );
  }

  /** For the worker only: the tenant with its secrets decrypted, in memory. */
  async getDecrypted(ref: string, options: ScopeOption = {}): Promise<Tenant> {
    return this.fromDocument(await this.findDocument(ref, options.scope));
  }

  /**
   * The tenant, decrypted, for a sync or a connection test: refused (CONFIGURATION, before any
   * connection) when one of its destinations is not allowed now — a tenant stored before the rule, or
   * an allow-list entry removed since. `powershellDefaultPort`: the WinRM port of a host without one.
   */
  async getForConnection(ref: string, powershellDefaultPort: number): Promise<Tenant> {
    const tenant = await this.getDecrypted(ref);
    const problems = destinationProblems(tenant, await this.destinations.entries(), powershellDefaultPort);
    if (problems.length > 0) {
      throw new SyncError(
        'CONFIGURATION',
        `Tenant ${tenant.hierarchy}/${tenant.Tenant.name} names a destination that is not allowed; nothing was contacted. ` +
          problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      );
    }
    return tenant;
  }

  /** Names of the tenants that use a stored certificate (so it is not removed under them). */
  async usingCertificate(name: string): Promise<string[]> {
    const docs = await this.collection
      .find({ 'Microsoft 365.certificate_bkey': name }, { projection: { hierarchy: 1, 'Tenant.name': 1 } })
      .toArray();
    return docs.map((d) => `${d.hierarchy}/${(d.Tenant as { name: string }).name}`);
  }

  /**
   * Re-encrypts every tenant whose secrets were written under an older key, and stores the proxy
   * user and password of tenants that still carry them inside the proxy URL in their own fields.
   * Returns the tenants changed, as `<hierarchy>/<name>`. Safe to run again.
   */
  async reencryptAll(): Promise<{ reencrypted: string[]; proxyCredentialsMoved: string[] }> {
    const reencrypted: string[] = [];
    const proxyCredentialsMoved: string[] = [];
    for await (const doc of this.collection.find({})) {
      const onOldKey = ENCRYPTED_FIELDS.some((f) => {
        const value = (doc[f.group] as Record<string, unknown> | undefined)?.[f.name];
        return isEncryptedValue(value) && value.keyId !== this.keyRing.activeKeyId;
      });
      const { tenant, migrated } = this.read(doc);
      if (!onOldKey && !migrated) continue;
      await this.collection.replaceOne(
        { _id: doc._id },
        this.toDocument(doc._id, tenant, tenant.createdAt, tenant.updatedAt),
      );
      const ref = `${tenant.hierarchy}/${tenant.Tenant.name}`;
      if (onOldKey) reencrypted.push(ref);
      if (migrated) proxyCredentialsMoved.push(ref);
    }
    return { reencrypted, proxyCredentialsMoved };
  }

  private async findDocument(ref: string, scope?: string): Promise<TenantDocument> {
    const byRef: Filter<TenantDocument> =
      ObjectId.isValid(ref) && /^[0-9a-f]{24}$/i.test(ref)
        ? { _id: new ObjectId(ref) }
        : ref.includes('/')
          ? {
              hierarchy: ref.slice(0, ref.lastIndexOf('/')),
              'Tenant.name': ref.slice(ref.lastIndexOf('/') + 1),
            }
          : { 'Tenant.name': ref };
    // The scope is part of the query, so a tenant outside it is neither found nor counted as a namesake.
    const filter = scopedFilter(byRef, scope);
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

  private async checkDestinations(config: TenantConfig): Promise<void> {
    const problems = destinationProblems(config, await this.destinations.entries());
    if (problems.length > 0) throw new ValidationError(`Tenant "${config.Tenant.name}"`, problems);
  }

  /**
   * A certificate serves the tenants at its place in the hierarchy and below; to any other tenant it
   * does not exist, and no message shows another customer's certificate (nor its thumbprint).
   */
  private async checkCertificate(config: TenantConfig): Promise<void> {
    const m365 = config['Microsoft 365'];
    if (m365.client_secret || !m365.certificate_bkey) return;
    const certificate = await this.findCertificate(m365.certificate_bkey, config.hierarchy);
    if (!certificate) {
      throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
        {
          field: 'Microsoft 365.certificate_bkey',
          message: `names no stored certificate available at ${config.hierarchy} ("${m365.certificate_bkey}"); add it there with m365sync certificates add --hierarchy`,
        },
      ]);
    }
    if (certificate.thumbprint.toUpperCase() !== m365.graph_api_certificate_thumbprint?.toUpperCase()) {
      throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
        {
          field: 'Microsoft 365.graph_api_certificate_thumbprint',
          message: `does not match the thumbprint of the stored certificate "${m365.certificate_bkey}" (m365sync certificates list shows it)`,
        },
      ]);
    }
  }

  private async write(operation: () => Promise<unknown>, config: TenantConfig): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (isDuplicateKey(error)) {
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

  /** A tenant fit to show: a stored secret becomes the mask by its presence alone, never decrypted. */
  private fromDocumentMasked(doc: TenantDocument): Tenant {
    const tenant = plainCopy(doc);
    for (const field of ENCRYPTED_FIELDS) {
      const group = tenant[field.group] as Record<string, unknown>;
      if (isEncryptedValue(group[field.name])) group[field.name] = MASK;
    }
    return maskTenant(tenant as unknown as Tenant);
  }

  private fromDocument(doc: TenantDocument): Tenant {
    return this.read(doc).tenant;
  }

  /** Decrypts a document; a proxy URL with credentials in it comes out split (`migrated`). */
  private read(doc: TenantDocument): { tenant: Tenant; migrated: boolean } {
    const tenant = plainCopy(doc);
    for (const field of ENCRYPTED_FIELDS) {
      const group = tenant[field.group] as Record<string, unknown>;
      const value = group[field.name];
      if (isEncryptedValue(value))
        group[field.name] = this.keyRing.decrypt(value, secretContext(doc._id, fieldPath(field)));
    }
    const migrated = migrateProxyCredentials(tenant as unknown as Tenant);
    return { tenant: tenant as unknown as Tenant, migrated };
  }
}

function checkInScope(config: TenantConfig, scope: string | undefined): void {
  if (scope === undefined || scopeCovers(scope, config.hierarchy)) return;
  throw new ValidationError(`Tenant "${config.Tenant.name}"`, [
    { field: 'hierarchy', message: `must be ${scope} or a place under it (the scope of this token)` },
  ]);
}

function scopedFilter<T extends { hierarchy: string }>(
  filter: Filter<T>,
  scope: string | undefined,
): Filter<T> {
  if (scope === undefined || scope === ALL_SCOPES) return filter;
  const inScope = hierarchyFilter(scope) as Filter<T>;
  return Object.keys(filter).length === 0 ? inScope : ({ $and: [filter, inScope] } as Filter<T>);
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

/** A document's tenant fields as they are stored (secrets still ciphertext), as a mutable copy. */
function plainCopy(doc: TenantDocument): Record<string, unknown> {
  const tenant: Record<string, unknown> = {
    id: doc._id.toHexString(),
    hierarchy: doc.hierarchy,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
  for (const group of TENANT_GROUPS) tenant[group] = { ...((doc[group] as Record<string, unknown>) ?? {}) };
  return tenant;
}
