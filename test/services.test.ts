import { afterEach, describe, expect, it } from 'vitest';
import setup from './global-setup.js';

const saved = { REDIS_URL: process.env.REDIS_URL, MONGODB_URI: process.env.MONGODB_URI };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('the suite without its services', () => {
  it('fails loudly, naming the service and how to start it', async () => {
    process.env.REDIS_URL = 'redis://127.0.0.1:1';
    process.env.MONGODB_URI = 'mongodb://127.0.0.1:1';
    const failure = setup();
    await expect(failure).rejects.toThrow(/Redis does not answer at redis:\/\/127.0.0.1:1/);
    await expect(failure).rejects.toThrow(/MongoDB does not answer at mongodb:\/\/127.0.0.1:1/);
    await expect(failure).rejects.toThrow(/npm run services/);
  });

  it('passes when both answer', async () => {
    await expect(setup()).resolves.toBeUndefined();
  });
});
