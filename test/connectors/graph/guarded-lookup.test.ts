import { createServer, type AddressInfo, type Server } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../connectors/graph/transport.js';
import { parseAllowEntry } from '../../../domain/destinations.js';

let listener: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  // Records connections and closes them: what reached it, not what it answered, is the point.
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as AddressInfo).port;
});
afterAll(async () => new Promise<void>((resolve) => listener.close(() => resolve())));

describe('Graph sockets resolve names through the allow-list', () => {
  it('refuses a name resolving to loopback that no entry names, before connecting', async () => {
    const dispatcher = createDispatcher({ allowed: () => [parseAllowEntry('graph', 'localhost')] });
    const error = await request(`http://localhost:${port}/`, { dispatcher }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EDESTINATIONREFUSED' });
    expect(String((error as Error).message)).toMatch(
      /localhost resolves to .*not allowed.*destinations allow graph/,
    );
    expect(connections).toBe(0);
    await dispatcher.close();
  });

  it('connects once an entry names the address range', async () => {
    const dispatcher = createDispatcher({
      allowed: () => [parseAllowEntry('graph', '127.0.0.0/8'), parseAllowEntry('graph', '::1')],
    });
    await request(`http://localhost:${port}/`, { dispatcher }).catch(() => undefined);
    expect(connections).toBeGreaterThan(0);
    await dispatcher.close();
  });
});
