import type { Collection, Document, OptionalUnlessRequiredId } from 'mongodb';

/** MongoDB's duplicate key error (E11000): a unique index (or `_id`) already holds the value. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}

/** Inserts `doc`, or throws `taken()` when a unique index already holds one of its values. */
export async function insertUnique<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
  taken: () => Error,
): Promise<void> {
  try {
    await collection.insertOne(doc);
  } catch (error) {
    if (isDuplicateKey(error)) throw taken();
    throw error;
  }
}
