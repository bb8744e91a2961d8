/**
 * How a webhook delivery is signed, and how a receiver checks it. The signed text is the timestamp,
 * a dot and the exact body bytes; the HMAC-SHA256 of it under the subscription's secret goes in
 * `X-M365Sync-Signature: sha256=<hex>`, the timestamp (Unix seconds) in `X-M365Sync-Timestamp`. A
 * receiver recomputes the HMAC over the body it read (before any JSON parsing), compares in constant
 * time and refuses a timestamp far from its clock, so a captured delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-m365sync-signature';
export const TIMESTAMP_HEADER = 'x-m365sync-timestamp';
export const DELIVERY_HEADER = 'x-m365sync-delivery';
export const EVENT_HEADER = 'x-m365sync-event';

/** How far a delivery's timestamp may be from the receiver's clock (the README's advice). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>` of `<timestamp>.<body>`. */
export function webhookSignature(secret: string, timestamp: number, body: string | Buffer): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`, 'utf8');
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * A receiver's check: the signature matches the body and the timestamp is within the tolerance.
 * `body` must be the raw bytes received.
 */
export function verifyWebhookSignature(check: {
  secret: string;
  body: string | Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds?: number;
  toleranceSeconds?: number;
}): boolean {
  const timestamp = Number(check.timestamp);
  if (!check.timestamp || !/^\d{1,12}$/.test(check.timestamp) || !check.signature) return false;
  const now = check.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (check.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(webhookSignature(check.secret, timestamp, check.body));
  const given = Buffer.from(check.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
