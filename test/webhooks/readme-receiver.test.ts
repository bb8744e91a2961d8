/**
 * The README's receiver snippet ("Verifying a delivery"), run as it is written: a separate Node.js
 * process on loopback, sent deliveries signed the way the delivery worker signs them. It must take the
 * genuine one and refuse a forged, tampered, stale or unsigned one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookSignature } from '../../domain/webhook-signature.js';
import { freePort } from '../../scripts/free-port.js';
import { eventually } from '../workers/support/harness.js';

const SECRET = 'whsec_readme-receiver-0123456789abcdefghijklmn';
let child: ChildProcess;
let dir: string;
let port = 0;
let stdout = '';

beforeAll(async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Verifying a delivery'));
  const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  expect(snippet, 'the README has the receiver snippet').toBeDefined();
  dir = await mkdtemp(join(tmpdir(), 'm365sync-receiver-'));
  await writeFile(join(dir, 'receiver.mjs'), snippet!);
  port = await freePort(); // the snippet listens on PORT
  child = spawn(process.execPath, [join(dir, 'receiver.mjs')], {
    env: { PATH: process.env.PATH, M365SYNC_WEBHOOK_SECRET: SECRET, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await eventually(() =>
    fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    ),
  );
}, 30_000);

afterAll(async () => {
  child?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const body = JSON.stringify({
  event: 'run.completed',
  deliveryId: 'sub-run',
  run: { id: 'run', status: 'succeeded' },
  tenant: { id: 't', name: 'Contoso', hierarchy: 'acme' },
});

async function deliver(
  options: { secret?: string; timestamp?: number; sent?: string; signed?: boolean } = {},
) {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = webhookSignature(options.secret ?? SECRET, timestamp, body);
  const response = await fetch(`http://127.0.0.1:${port}/m365sync/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.signed === false
        ? {}
        : { 'x-m365sync-timestamp': String(timestamp), 'x-m365sync-signature': signature }),
    },
    body: options.sent ?? body,
  });
  return response.status;
}

describe("the README's receiver snippet", () => {
  it('takes a genuine delivery', async () => {
    expect(await deliver()).toBe(204);
    await eventually(async () => stdout.includes('sub-run Contoso succeeded'));
  });

  it('refuses another secret, a changed body, a stale or future timestamp, and no signature', async () => {
    expect(await deliver({ secret: `${SECRET}x` })).toBe(401);
    expect(await deliver({ sent: body.replace('succeeded', 'failed') })).toBe(401);
    expect(await deliver({ timestamp: Math.floor(Date.now() / 1000) - 600 })).toBe(401);
    expect(await deliver({ timestamp: Math.floor(Date.now() / 1000) + 600 })).toBe(401);
    expect(await deliver({ signed: false })).toBe(401);
  });
});
