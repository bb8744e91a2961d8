/** Content hashes of imported objects: equal objects hash equally whatever their key order. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** SHA-256 of the object's canonical JSON, base64url. */
export function contentHash(object: unknown): string {
  return createHash('sha256').update(canonicalJson(object)).digest('base64url');
}
