/**
 * The admin-managed allow-list of destinations (`allowed_destinations`): Graph and sign-in hosts
 * beyond the national clouds, PowerShell proxies and outbound HTTP proxies a tenant may name. The
 * rules are in domain/destinations.ts; tenants are checked against this list when saved and again
 * right before any connection.
 */
import { type Collection, type Db } from 'mongodb';
import { SyncError } from '../../domain/errors.js';
import { parseAllowEntry, type AllowEntry, type DestinationKind } from '../../domain/destinations.js';
import { isDuplicateKey } from './duplicate-key.js';

export const DESTINATIONS_COLLECTION = 'allowed_destinations';

interface DestinationDocument {
  kind: DestinationKind;
  entry: string;
  note?: string;
  createdAt: Date;
}

export interface AllowedDestination {
  kind: DestinationKind;
  entry: string;
  note?: string;
  createdAt: Date;
}

export class AllowedDestinationStore {
  private readonly collection: Collection<DestinationDocument>;

  constructor(db: Db) {
    this.collection = db.collection<DestinationDocument>(DESTINATIONS_COLLECTION);
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ kind: 1, entry: 1 }, { unique: true, name: 'kind_entry_unique' });
  }

  /** Adds an entry (idempotent); returns it normalised. */
  async allow(kind: string, entry: string, note?: string): Promise<AllowedDestination> {
    const parsed = parseAllowEntry(kind, entry);
    const doc: DestinationDocument = {
      kind: parsed.kind,
      entry: parsed.entry,
      ...(note ? { note } : {}),
      createdAt: new Date(),
    };
    try {
      await this.collection.insertOne({ ...doc });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    return doc;
  }

  async remove(kind: string, entry: string): Promise<void> {
    const parsed = parseAllowEntry(kind, entry);
    const { deletedCount } = await this.collection.deleteOne({ kind: parsed.kind, entry: parsed.entry });
    if (deletedCount === 0)
      throw new SyncError('NOT_FOUND', `No allowed ${parsed.kind} destination "${parsed.entry}".`);
  }

  async list(kind?: DestinationKind): Promise<AllowedDestination[]> {
    const docs = await this.collection
      .find(kind ? { kind } : {}, { projection: { _id: 0 } })
      .sort({ kind: 1, entry: 1 })
      .toArray();
    return docs.map((d) => ({
      kind: d.kind,
      entry: d.entry,
      ...(d.note ? { note: d.note } : {}),
      createdAt: d.createdAt,
    }));
  }

  /** The entries, parsed, for the rules (an entry that no longer parses is skipped). */
  async entries(): Promise<AllowEntry[]> {
    const out: AllowEntry[] = [];
    for (const d of await this.collection.find({}).toArray()) {
      try {
        out.push(parseAllowEntry(d.kind, d.entry));
      } catch {
        // written by hand into MongoDB and not valid: allows nothing
      }
    }
    return out;
  }
}
