/**
 * Capturing servers: real listeners on loopback that record every connection and every byte of every
 * request they receive, and answer with a refusal. Tests point a tenant at one and check what a sync
 * sent there (no secret that was not given for it) — or that nothing connected at all.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface CaptureServer {
  port: number;
  /** `127.0.0.1:<port>` */
  host: string;
  /** TCP connections accepted, whatever came over them. */
  connections(): number;
  /** Every request as text: request line, headers, body (and CONNECT requests with their headers). */
  received(): string;
  close(): Promise<void>;
}

async function capture(
  server: http.Server,
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<CaptureServer> {
  let connections = 0;
  const texts: string[] = [];
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      texts.push(
        `${req.method} ${req.url}\n${req.rawHeaders.join('\n')}\n\n${Buffer.concat(chunks).toString('utf8')}`,
      );
      answer(req, res);
    });
  });
  // An outbound proxy is asked to CONNECT: record the request and its headers, then refuse it.
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    texts.push(`CONNECT ${req.url}\n${req.rawHeaders.join('\n')}\n`);
    socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    connections: () => connections,
    received: () => texts.join('\n----\n'),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Plain HTTP (a WinRM listener, an outbound proxy): answers 401 to every request. */
export function startHttpCapture(): Promise<CaptureServer> {
  return capture(http.createServer(), (_req, res) =>
    res.writeHead(401, { 'www-authenticate': 'Basic realm="capture"' }).end(),
  );
}

/**
 * HTTPS with a certificate the client trusts (a sign-in or Graph endpoint). Answers an OpenID
 * configuration request as an authority would (its token endpoint on this server, so a client goes on
 * to POST its credentials here), and 400 invalid_client to everything else.
 */
export function startHttpsCapture(tls: { key: string; cert: string }): Promise<CaptureServer> {
  return capture(https.createServer({ key: tls.key, cert: tls.cert }), (req, res) => {
    const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(req.url ?? '');
    if (openid) {
      const root = `https://${req.headers.host}/${openid[1]}`;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          token_endpoint: `${root}/oauth2/v2.0/token`,
          issuer: `${root}/v2.0`,
          authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${root}/oauth2/v2.0/logout`,
          jwks_uri: `${root}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
        }),
      );
    }
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'invalid_client', error_description: 'captured' }));
  });
}
