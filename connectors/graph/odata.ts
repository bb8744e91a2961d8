/**
 * Small pure helpers for Graph's OData JSON.
 */

/**
 * Removes OData annotations (`@odata.type`, `@odata.id`, `displayName@odata.type`, `members@delta`, …)
 * from an item, in place, at every depth, and returns it. MongoDB-wire servers such as FerretDB refuse
 * keys with '.', and annotations are protocol, not data. Items without annotations (the usual case for
 * list responses) are walked once and left untouched, so no object is copied or reshaped.
 */
export function stripODataAnnotations<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object') stripODataAnnotations(v);
  } else if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (key.includes('@')) delete obj[key];
      else {
        const v = obj[key];
        if (v !== null && typeof v === 'object') stripODataAnnotations(v);
      }
    }
  }
  return value;
}

/**
 * Retry-After as Graph sends it: delta-seconds or an HTTP date. Returns milliseconds to wait, or
 * undefined when the header is missing, empty or unreadable (the caller then backs off on its own).
 */
export function parseRetryAfter(
  header: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
