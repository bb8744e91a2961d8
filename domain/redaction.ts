/**
 * Masking a tenant's secrets out of text that came back from somewhere else (a script's error line,
 * an error record, a sign-in failure). A secret can come back in another spelling than the one
 * stored: a proxy or MSAL percent-encodes it in a URL or form body, and PowerShell doubles its quotes
 * when a script or an error record quotes a single-quoted literal. Every such spelling is masked.
 */
const MASK = '********';

/** Secrets shorter than this are not masked: masking "ab" everywhere would garble every message. */
const MIN_SECRET_LENGTH = 3;

/** The four characters PowerShell reads as a single quote inside a single-quoted literal. */
const PS_SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;
/** Its double quotes, which it doubles inside a double-quoted string. */
const PS_DOUBLE_QUOTES = /["\u201C\u201D\u201E]/g;

/** Every byte but RFC 3986's unreserved characters percent-encoded (what .NET's EscapeDataString does). */
function percentEncodeAll(text: string): string {
  return Array.from(Buffer.from(text, 'utf8'))
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

function lowerHex(encoded: string): string {
  return encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
}

/** The spellings in which `secret` may come back in a message. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const doubled = secret.replace(PS_SINGLE_QUOTES, (q) => q + q).replace(PS_DOUBLE_QUOTES, (q) => q + q);
  forms.add(doubled);
  forms.add(secret.replace(PS_SINGLE_QUOTES, (q) => q + q));
  for (const encoded of [encodeURIComponent(secret), percentEncodeAll(secret)]) {
    forms.add(encoded);
    forms.add(lowerHex(encoded));
    forms.add(encoded.replace(/%20/g, '+')); // application/x-www-form-urlencoded
  }
  try {
    forms.add(decodeURIComponent(secret)); // a secret stored encoded (a proxy URL's password)
  } catch {
    // not percent-encoded text: nothing to add
  }
  return [...forms];
}

/** Every spelling of every secret replaced with `********` (longest first, so no part survives). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of secretForms(secret)) if (form.length >= MIN_SECRET_LENGTH) forms.add(form);
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(MASK);
  return out;
}
