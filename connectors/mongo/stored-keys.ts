/**
 * A compact in-memory picture of one tenant's stored objects of one kind (or of some of them: a delta
 * round's partial picture, kind-writer.ts): for each externalId, the
 * document's `_id`, a 48-bit prefix of its content hash, its fence token, and what the current run
 * has made of it. Read once per run and kind with one streamed query (sorted by `_id`, projection of
 * `_id`/`externalId`/`contentHash`/`fence`/`hierarchy`), so a run compares every incoming object in
 * memory instead of asking the server page by page (FerretDB v1 scans the collection for every
 * `$in` look-up).
 *
 * Memory: one Map entry per object (the externalId string as key, a small integer as value: about 29
 * bytes, plus the string, about 56 bytes for a 36-character GUID) and 29 bytes in typed arrays
 * (12-byte ObjectId, 8-byte hash prefix, 8-byte fence, 1 flag byte). Measured with 1,000,000 GUID
 * keys: about 115 bytes per object, so about 115 MB for 1,000,000 stored objects of one kind. A 48-bit hash prefix misses a change with probability 2^-48
 * per changed object.
 */
import { BSON, ObjectId, type Collection } from 'mongodb';

/** What the current run made of a stored object (low two bits of its flags). */
export const UNSEEN = 0;
export const CREATED = 1;
export const UPDATED = 2;
export const UNCHANGED = 3;
const STATE_MASK = 3;
/** The stored document's hierarchy is not the tenant's current one: restamp it when seen unchanged. */
const RESTAMP = 4;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Each digit's value by character code (-1: not a digit). */
const DIGIT_BYTE = new Int8Array(256).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) DIGIT_BYTE[BASE64URL.charCodeAt(i)] = i;

/** The first 48 bits of a base64url content hash, as a number; NaN (equal to nothing) if malformed. */
export function hashPrefix(hash: unknown): number {
  if (typeof hash !== 'string' || hash.length < 8) return NaN;
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const c = hash.charCodeAt(i);
    const d = c < 256 ? DIGIT_BYTE[c]! : -1;
    if (d < 0) return NaN;
    n = n * 64 + d;
  }
  return n;
}

/** The projection's field names, as `fieldOf` tells them apart in BSON bytes. */
const F_OTHER = 0;
const F_ID = 1;
const F_EXTERNAL_ID = 2;
const F_CONTENT_HASH = 3;
const F_FENCE = 4;
const F_HIERARCHY = 5;
const FIELDS: [number, Buffer][] = [
  [F_ID, Buffer.from('_id')],
  [F_EXTERNAL_ID, Buffer.from('externalId')],
  [F_CONTENT_HASH, Buffer.from('contentHash')],
  [F_FENCE, Buffer.from('fence')],
  [F_HIERARCHY, Buffer.from('hierarchy')],
];

function fieldOf(doc: Buffer, at: number, length: number): number {
  for (const [field, name] of FIELDS) {
    if (name.length !== length) continue;
    let i = 0;
    while (i < length && doc[at + i] === name[i]) i++;
    if (i === length) return field;
  }
  return F_OTHER;
}

function ascii(doc: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (doc[i]! >= 0x80) return false;
  return true;
}

/** `hashPrefix` of the ASCII string whose bytes start at `from` (at least 8 of them). */
function bytesPrefix(doc: Buffer, from: number): number {
  let n = 0;
  for (let i = from; i < from + 8; i++) {
    const d = DIGIT_BYTE[doc[i]!]!;
    if (d < 0) return NaN;
    n = n * 64 + d;
  }
  return n;
}

export interface StoredKeyDocument {
  _id: unknown;
  externalId: string;
  contentHash?: string;
  fence?: number;
  hierarchy?: string;
}

export class StoredKeys {
  private readonly index = new Map<string, number>();
  private capacity: number;
  private ids: Buffer;
  private hashes: Float64Array;
  private fences: Float64Array;
  private flags: Uint8Array;
  /** `_id`s that are not ObjectIds (documents written by something else): rare, kept as they are. */
  private readonly otherIds = new Map<number, unknown>();

  constructor(capacity = 1024) {
    this.capacity = Math.max(16, capacity);
    this.ids = Buffer.alloc(this.capacity * 12);
    this.hashes = new Float64Array(this.capacity);
    this.fences = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
  }

  /**
   * Streams the tenant's keys of one collection into a StoredKeys. `hierarchy`, when given, marks the
   * documents stamped with another hierarchy for a restamp.
   */
  static async load(col: Collection<never>, tenantId: string, hierarchy?: string): Promise<StoredKeys> {
    const keys = new StoredKeys();
    // Raw documents (each a view of the reply's bytes), read in `addRaw` without building an object,
    // an ObjectId and three strings per stored object (that garbage was a tenth of an unchanged
    // re-sync's CPU); anything `addRaw` does not read exactly is deserialized as before.
    const cursor = (col as unknown as Collection<StoredKeyDocument>)
      .find(
        { tenantId },
        {
          projection: { _id: 1, externalId: 1, contentHash: 1, fence: 1, hierarchy: 1 },
          batchSize: 5000,
          raw: true,
        },
      )
      .sort({ _id: 1 });
    const wanted = hierarchy === undefined ? undefined : Buffer.from(hierarchy, 'utf8');
    for await (const doc of cursor as unknown as AsyncIterable<Uint8Array>) {
      const bytes = Buffer.isBuffer(doc) ? doc : Buffer.from(doc.buffer, doc.byteOffset, doc.byteLength);
      if (!keys.addRaw(bytes, wanted))
        keys.addStored(BSON.deserialize(bytes) as unknown as StoredKeyDocument, hierarchy);
    }
    return keys;
  }

  /**
   * Adds a stored document from its BSON bytes, as `addStored` would add it deserialized; false (and
   * nothing added) for what it does not read exactly so: an `_id` that is no ObjectId, a field of
   * another type or name than the projection's, a string that is not plain ASCII where `addStored`
   * would compare or hash it (only valid UTF-8 decodes equally), a missing externalId.
   */
  private addRaw(doc: Buffer, hierarchy: Buffer | undefined): boolean {
    const end = doc.readInt32LE(0) - 1;
    let i = 4;
    let idAt = -1;
    let externalId: string | undefined;
    let hash = NaN;
    let fence = 0;
    let sameHierarchy = false;
    while (i < end) {
      const type = doc[i]!;
      const nameAt = i + 1;
      let nameEnd = nameAt;
      while (nameEnd < end && doc[nameEnd] !== 0) nameEnd++;
      if (nameEnd >= end) return false;
      const field = fieldOf(doc, nameAt, nameEnd - nameAt);
      i = nameEnd + 1;
      if (type === 0x07) {
        if (field !== F_ID) return false;
        idAt = i;
        i += 12;
      } else if (type === 0x02) {
        const length = doc.readInt32LE(i);
        const from = i + 4;
        const to = from + length - 1;
        if (length < 1 || to >= end || doc[to] !== 0) return false;
        i = to + 1;
        if (field === F_EXTERNAL_ID) {
          externalId = doc.toString('utf8', from, to);
          if (externalId.includes('\ufffd')) return false; // BSON.deserialize checks the UTF-8 then
        } else if (field === F_CONTENT_HASH) {
          if (!ascii(doc, from, to)) return false;
          hash = to - from < 8 ? NaN : bytesPrefix(doc, from);
        } else if (field === F_HIERARCHY) {
          if (hierarchy === undefined) continue;
          sameHierarchy =
            to - from === hierarchy.length && doc.compare(hierarchy, 0, hierarchy.length, from, to) === 0;
          if (!sameHierarchy && !ascii(doc, from, to)) return false;
        } else return false;
      } else if (type === 0x10 && field === F_FENCE) {
        fence = doc.readInt32LE(i);
        i += 4;
      } else if (type === 0x01 && field === F_FENCE) {
        fence = doc.readDoubleLE(i);
        i += 8;
      } else return false;
    }
    if (i !== end || idAt < 0 || externalId === undefined) return false;
    const at = this.index.size;
    if (at === this.capacity) this.grow();
    this.index.set(externalId, at);
    doc.copy(this.ids, at * 12, idAt, idAt + 12);
    this.hashes[at] = hash;
    this.fences[at] = fence;
    this.flags[at] = hierarchy !== undefined && !sameHierarchy ? UNSEEN | RESTAMP : UNSEEN;
    return true;
  }

  /** Adds a stored document as the run has not seen it yet (see `load` for `hierarchy`). */
  addStored(doc: StoredKeyDocument, hierarchy?: string): number {
    const at = this.add(doc.externalId, doc._id, hashPrefix(doc.contentHash), doc.fence ?? 0, UNSEEN);
    if (hierarchy !== undefined && doc.hierarchy !== hierarchy) this.flags[at]! |= RESTAMP;
    return at;
  }

  /**
   * Takes over what the run made of the objects of `partial` (a picture of some of the same objects,
   * written by this run before the whole picture was read): the whole picture then says what a
   * picture read at the start would say.
   */
  carry(partial: StoredKeys): void {
    for (const [externalId, from] of partial.index) {
      const state = partial.state(from);
      if (state === UNSEEN) continue;
      const at = this.find(externalId) ?? this.add(externalId, partial.id(from), 0, 0, UNSEEN);
      this.set(at, state, partial.hash(from), partial.fence(from));
    }
  }

  get size(): number {
    return this.index.size;
  }

  add(externalId: string, id: unknown, hash: number, fence: number, state: number): number {
    const at = this.index.size;
    if (at === this.capacity) this.grow();
    this.index.set(externalId, at);
    if (id instanceof ObjectId) this.ids.set(id.id, at * 12);
    else this.otherIds.set(at, id);
    this.hashes[at] = hash;
    this.fences[at] = fence;
    this.flags[at] = state;
    return at;
  }

  find(externalId: string): number | undefined {
    return this.index.get(externalId);
  }

  id(at: number): unknown {
    return this.otherIds.get(at) ?? new ObjectId(this.ids.subarray(at * 12, at * 12 + 12));
  }

  hash(at: number): number {
    return this.hashes[at]!;
  }

  fence(at: number): number {
    return this.fences[at]!;
  }

  state(at: number): number {
    return this.flags[at]! & STATE_MASK;
  }

  needsRestamp(at: number): boolean {
    return (this.flags[at]! & RESTAMP) !== 0;
  }

  /** Records what the run made of the object (clears the restamp mark: it has been written). */
  set(at: number, state: number, hash: number, fence: number): void {
    this.flags[at] = state;
    this.hashes[at] = hash;
    this.fences[at] = fence;
  }

  /**
   * After a delta round, which lists only what changed: every stored object counts as seen (as it
   * was, unless the round wrote it), except those the round removed, which the sweep then deletes.
   */
  keepAllBut(removed: ReadonlySet<string>): void {
    for (const [externalId, at] of this.index) {
      const state = this.flags[at]! & STATE_MASK;
      if (removed.has(externalId)) this.flags[at] = (this.flags[at]! & ~STATE_MASK) | UNSEEN;
      else if (state === UNSEEN) this.flags[at] = (this.flags[at]! & ~STATE_MASK) | UNCHANGED;
    }
  }

  /** The stored objects the run has not seen: their externalIds (sorted) and positions. */
  unseen(): { externalIds: string[]; positions: number[] } {
    const entries: [string, number][] = [];
    for (const entry of this.index) if ((this.flags[entry[1]]! & STATE_MASK) === UNSEEN) entries.push(entry);
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { externalIds: entries.map((e) => e[0]), positions: entries.map((e) => e[1]) };
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const ids = Buffer.alloc(capacity * 12);
    this.ids.copy(ids);
    const hashes = new Float64Array(capacity);
    hashes.set(this.hashes);
    const fences = new Float64Array(capacity);
    fences.set(this.fences);
    const flags = new Uint8Array(capacity);
    flags.set(this.flags);
    this.capacity = capacity;
    this.ids = ids;
    this.hashes = hashes;
    this.fences = fences;
    this.flags = flags;
  }
}
