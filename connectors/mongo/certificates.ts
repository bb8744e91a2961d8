/**
 * Stored certificates (`data/Certificate`): a PEM certificate and its private key, the key encrypted at
 * rest. Tenants that authenticate to Graph with a certificate name one of these in
 * `Microsoft 365.certificate_bkey`; its SHA-1 thumbprint must equal their `graph_api_certificate_thumbprint`.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { type Collection, type Db, type ObjectId } from 'mongodb';
import { SyncError, ValidationError, type FieldProblem } from '../../domain/errors.js';
import { DEFAULT_HIERARCHY, HIERARCHY } from '../../domain/tenant.js';
import type { EncryptedValue, KeyRing } from './encryption.js';
import { isDuplicateKey } from './duplicate-key.js';

export interface CertificateInput {
  name: string;
  hierarchy?: string;
  certificatePem: string;
  privateKeyPem: string;
}

/** What anyone may see of a stored certificate: never the key. */
export interface CertificateInfo {
  id: string;
  name: string;
  hierarchy: string;
  thumbprint: string;
  subject: string;
  issuer: string;
  validFrom: Date;
  validTo: Date;
  createdAt: Date;
}

/** For the Graph connector only, in memory. */
export interface CertificateWithKey extends CertificateInfo {
  certificatePem: string;
  privateKeyPem: string;
}

interface CertificateDocument extends Omit<CertificateInfo, 'id'> {
  _id?: ObjectId;
  certificatePem: string;
  privateKey: EncryptedValue;
}

export const CERTIFICATES_COLLECTION = 'certificates';
const NAME = /^[a-zA-Z0-9-_. ]{1,255}$/;

/** The SHA-1 thumbprint as Windows shows it: 40 upper-case hexadecimal digits. */
export function certificateThumbprint(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint.replace(/:/g, '').toUpperCase();
}

function parseCertificate(input: CertificateInput): { x509: X509Certificate; key: KeyObject } {
  const problems: FieldProblem[] = [];
  let x509: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (typeof input.name !== 'string' || !NAME.test(input.name.trim())) {
    problems.push({
      field: 'name',
      message: 'is required: up to 255 letters, digits, space, "-", "_" and "."',
    });
  }
  if (input.hierarchy !== undefined && !HIERARCHY.test(input.hierarchy)) {
    problems.push({ field: 'hierarchy', message: 'must be dot-separated places (e.g. provider.reseller)' });
  }
  try {
    x509 = new X509Certificate(input.certificatePem ?? '');
  } catch {
    problems.push({
      field: 'certificatePem',
      message: 'is not a PEM certificate (-----BEGIN CERTIFICATE-----)',
    });
  }
  try {
    key = createPrivateKey(input.privateKeyPem ?? '');
  } catch {
    // Say nothing of the key's content.
    problems.push({
      field: 'privateKeyPem',
      message: 'is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)',
    });
  }
  if (x509 && key && !x509.checkPrivateKey(key)) {
    problems.push({ field: 'privateKeyPem', message: 'does not belong to the certificate' });
  }
  if (problems.length > 0 || !x509 || !key)
    throw new ValidationError(`Certificate ${JSON.stringify(input.name ?? '')}`, problems);
  return { x509, key };
}

export class CertificateStore {
  private readonly collection: Collection<CertificateDocument>;

  constructor(
    db: Db,
    private readonly keyRing: KeyRing,
  ) {
    this.collection = db.collection<CertificateDocument>(CERTIFICATES_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ name: 1 }, { unique: true, name: 'name_unique' });
    await this.collection.createIndex({ thumbprint: 1 }, { name: 'thumbprint' });
  }

  async add(input: CertificateInput): Promise<CertificateInfo> {
    const { x509 } = parseCertificate(input);
    const name = input.name.trim();
    const now = new Date();
    const doc: CertificateDocument = {
      name,
      hierarchy: input.hierarchy ?? DEFAULT_HIERARCHY,
      thumbprint: certificateThumbprint(input.certificatePem),
      subject: x509.subject,
      issuer: x509.issuer,
      validFrom: new Date(x509.validFrom),
      validTo: new Date(x509.validTo),
      certificatePem: x509.toString(),
      privateKey: this.keyRing.encrypt(input.privateKeyPem.trim(), `certificate:${name}:privateKey`),
      createdAt: now,
    };
    try {
      const { insertedId } = await this.collection.insertOne(doc);
      return toInfo({ ...doc, _id: insertedId });
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new SyncError(
          'CONFLICT',
          `A certificate named "${name}" is already stored; remove it first or choose another name.`,
        );
      }
      throw error;
    }
  }

  async list(): Promise<CertificateInfo[]> {
    const docs = await this.collection
      .find({}, { projection: { privateKey: 0 } })
      .sort({ name: 1 })
      .toArray();
    return docs.map(toInfo);
  }

  async find(name: string): Promise<CertificateInfo | null> {
    const doc = await this.collection.findOne({ name }, { projection: { privateKey: 0 } });
    return doc ? toInfo(doc) : null;
  }

  /**
   * The certificate a tenant at `tenantHierarchy` may use: one stored at that place or above it. One
   * stored elsewhere is, to that tenant, not there at all.
   */
  async findForTenant(name: string, tenantHierarchy: string): Promise<CertificateInfo | null> {
    const doc = await this.find(name);
    return doc && certificateServes(doc.hierarchy, tenantHierarchy) ? doc : null;
  }

  /** The certificate with its private key decrypted, for the Graph connector of a tenant at `tenantHierarchy`. */
  async getWithKey(name: string, tenantHierarchy: string): Promise<CertificateWithKey> {
    const doc = await this.collection.findOne({ name });
    if (!doc || !certificateServes(doc.hierarchy, tenantHierarchy))
      throw new SyncError(
        'NOT_FOUND',
        `No stored certificate named "${name}" is available at ${tenantHierarchy} (a certificate serves the tenants at its place in the hierarchy and below).`,
      );
    return {
      ...toInfo(doc),
      certificatePem: doc.certificatePem,
      privateKeyPem: this.keyRing.decrypt(doc.privateKey, `certificate:${doc.name}:privateKey`),
    };
  }

  /**
   * Re-encrypts every private key still under an older key with the active key. Returns the names of
   * the certificates changed. Safe to run again.
   */
  async reencryptAll(): Promise<string[]> {
    const changed: string[] = [];
    for await (const doc of this.collection.find({})) {
      if (doc.privateKey.keyId === this.keyRing.activeKeyId) continue;
      const context = `certificate:${doc.name}:privateKey`;
      const privateKey = this.keyRing.encrypt(this.keyRing.decrypt(doc.privateKey, context), context);
      await this.collection.updateOne({ _id: doc._id }, { $set: { privateKey } });
      changed.push(doc.name);
    }
    return changed;
  }

  async remove(name: string, isInUse: (name: string) => Promise<string[]>): Promise<void> {
    const users = await isInUse(name);
    if (users.length > 0) {
      throw new SyncError(
        'CONFLICT',
        `Certificate "${name}" is used by tenant(s) ${users.join(', ')}; change their Microsoft 365.certificate_bkey first.`,
      );
    }
    const { deletedCount } = await this.collection.deleteOne({ name });
    if (deletedCount === 0) throw new SyncError('NOT_FOUND', `No stored certificate is named "${name}".`);
  }
}

/** A certificate stored at `place` serves the tenants at `place` and below it. */
export function certificateServes(place: string, tenantHierarchy: string): boolean {
  return tenantHierarchy === place || tenantHierarchy.startsWith(`${place}.`);
}

function toInfo(doc: Omit<CertificateDocument, 'privateKey'> & { _id?: ObjectId }): CertificateInfo {
  return {
    id: String(doc._id),
    name: doc.name,
    hierarchy: doc.hierarchy,
    thumbprint: doc.thumbprint,
    subject: doc.subject,
    issuer: doc.issuer,
    validFrom: doc.validFrom,
    validTo: doc.validTo,
    createdAt: doc.createdAt,
  };
}
