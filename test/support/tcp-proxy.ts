/**
 * A TCP proxy (on loopback unless told another address) in front of a real server, for fault tests: it forwards, refuses
 * connections (its listener closed, open connections reset), or hangs (connections stay open and are
 * accepted, but nothing is forwarded either way: a server that stopped answering).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'refuse' | 'hang';

export interface TcpProxy {
  port: number;
  url(scheme: string): string;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): Promise<void>;
  close(): Promise<void>;
}

/** `listenHost`: where the proxy listens (default 127.0.0.1), e.g. a test bridge's address. */
export async function startTcpProxy(
  target: { host: string; port: number },
  listenHost = '127.0.0.1',
): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  const sockets = new Set<Socket>();
  const onConnection = (client: Socket) => {
    sockets.add(client);
    const upstream = connect(target.port, target.host);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      if (mode === 'forward') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'forward') client.write(chunk);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  let server: Server = createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, listenHost, () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  const port = await listen(0);
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));

  return {
    port,
    url: (scheme) => `${scheme}://${listenHost}:${port}`,
    mode: () => mode,
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'refuse') {
        server = createServer(onConnection);
        await listen(port);
      }
      mode = next;
      if (next === 'refuse') {
        const closed = closeServer();
        for (const s of sockets) s.destroy();
        sockets.clear();
        await closed;
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (mode !== 'refuse') await closeServer();
    },
  };
}
