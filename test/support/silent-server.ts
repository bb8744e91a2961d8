import { createServer, type Server, type Socket } from 'node:net';

/**
 * A server that accepts connections and never says a word: a Redis (or any peer) that hangs, as one
 * does behind a partition that drops packets. `url` is a redis:// URL to its loopback port.
 */
export async function silentServer(): Promise<{
  url: string;
  port: number;
  /** How many connections are open to it now. */
  connections(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    connections: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
