/**
 * Mass-delete protection settings (collection `delete_protection`): one document per level, `_id`
 * `global`, `hierarchy:<place>` or `tenant:<id>`, holding the thresholds per source
 * (`{ graph: { count, percent }, teams: …, exchange: … }`). The process's global values
 * (globalDeleteThresholds of its settings) sit under the stored global document: a source set in the
 * database wins.
 */
import type { Collection, Db } from 'mongodb';
import {
  DELETE_PROTECTION_SOURCES,
  parseDeleteProtectionSettings,
  type DeleteProtectionSettings,
  type DeleteThreshold,
  type SourceThresholds,
} from '../../domain/delete-protection.js';
import type { EntitySource } from '../../domain/entity-kinds.js';

export type ProtectionLevel = { global: true } | { hierarchy: string } | { tenantId: string };

interface ProtectionDocument extends SourceThresholds {
  _id: string;
  updatedAt: Date;
  updatedBy?: string;
}

export function levelId(level: ProtectionLevel): string {
  if ('hierarchy' in level) return `hierarchy:${level.hierarchy}`;
  if ('tenantId' in level) return `tenant:${level.tenantId}`;
  return 'global';
}

export class DeleteProtectionStore {
  readonly collection: Collection<ProtectionDocument>;

  constructor(
    db: Db,
    /** The global thresholds of the process settings (globalDeleteThresholds); default none. */
    private readonly globalThresholds: SourceThresholds = {},
  ) {
    this.collection = db.collection<ProtectionDocument>('delete_protection');
  }

  /**
   * Every level, environment included, as the domain's settings (validated on the way in). `global`:
   * other global thresholds than the ones this store was built with (the API's own settings).
   */
  async settings(global: SourceThresholds = this.globalThresholds): Promise<DeleteProtectionSettings> {
    const settings: DeleteProtectionSettings = { global: structuredClone(global) };
    for (const doc of await this.collection.find({}).toArray()) {
      const sources = thresholdsOf(doc);
      if (doc._id === 'global') settings.global = { ...settings.global, ...sources };
      else if (doc._id.startsWith('hierarchy:'))
        (settings.hierarchy ??= {})[doc._id.slice('hierarchy:'.length)] = sources;
      else if (doc._id.startsWith('tenant:'))
        (settings.tenants ??= {})[doc._id.slice('tenant:'.length)] = sources;
    }
    return settings;
  }

  /** Sets one source's threshold at one level (replacing count and percent as a pair). */
  async set(
    level: ProtectionLevel,
    source: EntitySource,
    threshold: DeleteThreshold,
    updatedBy?: string,
  ): Promise<void> {
    // Validate through the same schema the API and files use, so the errors are field-named.
    const probe: DeleteProtectionSettings =
      'hierarchy' in level
        ? { hierarchy: { [level.hierarchy]: { [source]: threshold } } }
        : 'tenantId' in level
          ? { tenants: { [level.tenantId]: { [source]: threshold } } }
          : { global: { [source]: threshold } };
    parseDeleteProtectionSettings(probe);
    const value: DeleteThreshold = {};
    if (threshold.count !== undefined) value.count = threshold.count;
    if (threshold.percent !== undefined) value.percent = threshold.percent;
    await this.collection.updateOne(
      { _id: levelId(level) },
      {
        $set: { [source]: value, updatedAt: new Date(), ...(updatedBy ? { updatedBy } : {}) },
      },
      { upsert: true },
    );
  }

  /** Clears one source at a level, or the whole level when no source is given. */
  async clear(level: ProtectionLevel, source?: EntitySource): Promise<boolean> {
    if (!source) return (await this.collection.deleteOne({ _id: levelId(level) })).deletedCount > 0;
    const result = await this.collection.updateOne(
      { _id: levelId(level) },
      { $unset: { [source]: '' }, $set: { updatedAt: new Date() } },
    );
    return result.modifiedCount > 0;
  }
}

function thresholdsOf(doc: ProtectionDocument): SourceThresholds {
  const out: SourceThresholds = {};
  for (const source of DELETE_PROTECTION_SOURCES) if (doc[source]) out[source] = doc[source];
  return out;
}
