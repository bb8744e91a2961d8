/**
 * Operator-defined kind lists (collection `kind_lists`, `_id` = the list's name). The built-in lists
 * (domain/kind-lists.ts) are not stored; `resolve` knows both.
 */
import type { Collection, Db } from 'mongodb';
import type { EntityKindName } from '../../domain/entity-kinds.js';
import { SyncError } from '../../domain/errors.js';
import { parseCustomKindList, resolveKinds, type KindList } from '../../domain/kind-lists.js';

interface KindListDocument {
  _id: string;
  kinds: EntityKindName[];
  description?: string;
  updatedAt: Date;
  updatedBy?: string;
}

export class KindListStore {
  readonly collection: Collection<KindListDocument>;

  constructor(db: Db) {
    this.collection = db.collection<KindListDocument>('kind_lists');
  }

  async list(): Promise<KindList[]> {
    const docs = await this.collection.find({}).sort({ _id: 1 }).toArray();
    return docs.map((d) => ({
      name: d._id,
      kinds: d.kinds,
      ...(d.description !== undefined ? { description: d.description } : {}),
    }));
  }

  /**
   * Saves a list. Its kinds may be given as a spec with built-in lists in it (`licensing,mailboxes`);
   * they are stored expanded, in canonical order.
   */
  async set(
    input: { name: string; kinds: string | readonly string[]; description?: string },
    updatedBy?: string,
  ): Promise<KindList> {
    const list = parseCustomKindList({
      name: input.name,
      kinds: resolveKinds(input.kinds),
      ...(input.description !== undefined ? { description: input.description } : {}),
    });
    await this.collection.replaceOne(
      { _id: list.name },
      {
        kinds: list.kinds,
        ...(list.description !== undefined ? { description: list.description } : {}),
        updatedAt: new Date(),
        ...(updatedBy ? { updatedBy } : {}),
      },
      { upsert: true },
    );
    return list;
  }

  async remove(name: string): Promise<void> {
    const result = await this.collection.deleteOne({ _id: name.trim().toLowerCase() });
    if (result.deletedCount === 0)
      throw new SyncError('NOT_FOUND', `No kind list "${name}"; see m365sync kinds list.`);
  }

  /** The kinds a spec names, with the operator's lists known. */
  async resolve(spec: string | readonly string[]): Promise<EntityKindName[]> {
    return resolveKinds(spec, await this.list());
  }
}
