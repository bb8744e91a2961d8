/**
 * Free loopback ports, for servers the tests and the benchmarks start or tell a child to start: the
 * one home of the helper, so that bench/ imports nothing of test/ (docs/ARCHITECTURE.md).
 */
import { createServer } from 'node:net';

/** Listens on `port` of 127.0.0.1 (0: one the system picks), closes at once, and says which it was. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return listenOnce(0);
}

/** Whether `port` of 127.0.0.1 could be listened on a moment ago. */
export function portIsFree(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}
