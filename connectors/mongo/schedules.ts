/**
 * Per-tenant schedule overrides (collection `schedules`, `_id` = tenant id). A tenant without an
 * override gets the default nightly schedule, spread over the night, and the default delta schedule
 * (queues/schedules.ts, queues/delta-schedules.ts).
 */
import type { Collection, Db } from 'mongodb';

export interface ScheduleOverride {
  /** Cron pattern (5 fields, or 6 with seconds first), used exactly as given: no spread offset. */
  pattern?: string;
  /** IANA time zone of the pattern; default the configured one (UTC). */
  tz?: string;
  /** False: no scheduled syncs for this tenant, nightly or delta (manual and `sync --all` still work). */
  enabled: boolean;
  /** Kinds the scheduled full pull pulls; default all (a delta run's kinds are fixed). */
  kinds?: string[];
  /** Minutes between scheduled delta runs, instead of SCHEDULE_DELTA_MINUTES; 0: none for this tenant. */
  deltaMinutes?: number;
}

interface ScheduleDocument extends ScheduleOverride {
  _id: string;
  updatedAt: Date;
  updatedBy?: string;
}

export class ScheduleOverrideStore {
  readonly collection: Collection<ScheduleDocument>;

  constructor(db: Db) {
    this.collection = db.collection<ScheduleDocument>('schedules');
  }

  async get(tenantId: string): Promise<ScheduleOverride | null> {
    const doc = await this.collection.findOne({ _id: tenantId });
    return doc ? toOverride(doc) : null;
  }

  async set(tenantId: string, override: ScheduleOverride, updatedBy?: string): Promise<void> {
    const doc: Omit<ScheduleDocument, '_id'> = { enabled: override.enabled, updatedAt: new Date() };
    if (override.pattern !== undefined) doc.pattern = override.pattern;
    if (override.tz !== undefined) doc.tz = override.tz;
    if (override.kinds !== undefined) doc.kinds = override.kinds;
    if (override.deltaMinutes !== undefined) doc.deltaMinutes = override.deltaMinutes;
    if (updatedBy !== undefined) doc.updatedBy = updatedBy;
    await this.collection.replaceOne({ _id: tenantId }, doc, { upsert: true });
  }

  /** Back to the default schedule. True if there was an override. */
  async clear(tenantId: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: tenantId })).deletedCount === 1;
  }

  async all(): Promise<Map<string, ScheduleOverride>> {
    const out = new Map<string, ScheduleOverride>();
    for await (const doc of this.collection.find({})) out.set(doc._id, toOverride(doc));
    return out;
  }
}

function toOverride(doc: ScheduleDocument): ScheduleOverride {
  const out: ScheduleOverride = { enabled: doc.enabled };
  if (doc.pattern !== undefined) out.pattern = doc.pattern;
  if (doc.tz !== undefined) out.tz = doc.tz;
  if (doc.kinds !== undefined) out.kinds = doc.kinds;
  if (doc.deltaMinutes !== undefined) out.deltaMinutes = doc.deltaMinutes;
  return out;
}
