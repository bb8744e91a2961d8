import { describe, expect, it } from 'vitest';
import { SyncError } from '../../../domain/errors.js';
import { keyRingOf, ENCRYPTION_KEYS_VARIABLE } from '../../../connectors/mongo/encryption.js';
import { keyEntry } from '../../support/keys.js';

const ring = (value: string | undefined) => keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: value });

describe('field encryption', () => {
  it('round-trips text, including non-ASCII, with a fresh IV each time', () => {
    const keys = ring(keyEntry('k1'));
    const a = keys.encrypt('pässwörd ✓', 'tenant:1:Microsoft 365.client_secret');
    const b = keys.encrypt('pässwörd ✓', 'tenant:1:Microsoft 365.client_secret');
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
    expect(JSON.stringify(a)).not.toContain('pässwörd');
    expect(keys.decrypt(a, 'tenant:1:Microsoft 365.client_secret')).toBe('pässwörd ✓');
  });

  it('rotates: new writes use the first key, an old key id still decrypts', () => {
    const oldEntry = keyEntry('2025');
    const before = ring(oldEntry);
    const stored = before.encrypt('old secret', 'ctx');
    const after = ring(`${keyEntry('2026')},${oldEntry}`);
    expect(after.activeKeyId).toBe('2026');
    expect(after.decrypt(stored, 'ctx')).toBe('old secret');
    expect(after.encrypt('new secret', 'ctx').keyId).toBe('2026');
  });

  it('refuses a key id it no longer has, naming it', () => {
    const stored = ring(keyEntry('gone')).encrypt('x', 'ctx');
    expect(() => ring(keyEntry('k2')).decrypt(stored, 'ctx')).toThrow(/key "gone".*no longer lists/);
  });

  it('detects tampering and ciphertext moved to another field', () => {
    const keys = ring(keyEntry('k1'));
    const stored = keys.encrypt('secret', 'tenant:1:a');
    expect(() => keys.decrypt(stored, 'tenant:1:b')).toThrow(SyncError);
    const flipped = {
      ...stored,
      data: Buffer.from(Buffer.from(stored.data, 'base64').map((b) => b ^ 1)).toString('base64'),
    };
    expect(() => keys.decrypt(flipped, 'tenant:1:a')).toThrow(/does not decrypt/);
  });

  it.each([
    [undefined, /is not set/],
    ['', /is not set/],
    ['nokeyid', /entry 1 has no valid key id/],
    ['k1:c2hvcnQ=', /key "k1" is not 32 bytes/],
    [`k1:${'!'.repeat(44)}`, /key "k1" is not 32 bytes/],
  ])('a missing or malformed key (%j) stops with a clear message', (value, message) => {
    expect(() => ring(value)).toThrow(message);
    try {
      ring(value);
    } catch (error) {
      expect((error as SyncError).code).toBe('ENCRYPTION_KEY');
    }
  });

  it('refuses the same key id twice and never echoes key material', () => {
    const entry = keyEntry('k1');
    expect(() => ring(`${entry},${entry}`)).toThrow(/twice/);
    const bad = 'k1:c2hvcnQ=';
    try {
      ring(bad);
    } catch (error) {
      expect((error as Error).message).not.toContain('c2hvcnQ=');
    }
  });
});
