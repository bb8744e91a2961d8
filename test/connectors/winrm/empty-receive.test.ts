/**
 * A proxy (or a load balancer in front of one) that answers every Receive at once with nothing must
 * not make the client spin: it backs off between empty Receives, within the command's deadline.
 * A real loopback server that speaks just enough WS-Management counts the Receives.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WinRmClient } from '../../../connectors/winrm/client.js';
import { ACTION, NS } from '../../../connectors/winrm/wsman.js';
import { createResponse, FAULTS, faultEnvelope, responseEnvelope } from '../../../simulators/winrm/soap.js';

type Answer = 'empty' | 'timed-out-fault';

async function instantProxy(answer: Answer) {
  const receives: number[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const xml = Buffer.concat(parts).toString('utf8');
      const messageId = /<a:MessageID>([^<]+)<\/a:MessageID>/.exec(xml)?.[1] ?? '';
      const action = /<a:Action[^>]*>([^<]+)<\/a:Action>/.exec(xml)?.[1] ?? '';
      let body: string;
      if (action === ACTION.Create) {
        body = createResponse(messageId, 'http://127.0.0.1/wsman', 'SHELL-1', 'svc', '127.0.0.1');
      } else if (action === ACTION.Command) {
        body = responseEnvelope(
          `${ACTION.Command}Response`,
          messageId,
          `<rsp:CommandResponse><rsp:CommandId>CMD-1</rsp:CommandId></rsp:CommandResponse>`,
        );
      } else if (action === ACTION.Receive) {
        receives.push(Date.now());
        body =
          answer === 'empty'
            ? responseEnvelope(
                `${ACTION.Receive}Response`,
                messageId,
                `<rsp:ReceiveResponse><rsp:CommandState CommandId="CMD-1" State="${NS.rsp}/CommandState/Running"/></rsp:ReceiveResponse>`,
              )
            : faultEnvelope(messageId, 'PSPROXY01', FAULTS.timedOut());
      } else {
        body = responseEnvelope(`${action}Response`, messageId, '');
      }
      const status = body.includes('<s:Fault>') ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/soap+xml;charset=UTF-8' }).end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, receives, port: (server.address() as AddressInfo).port };
}

describe('Receive against a proxy that answers at once with nothing', () => {
  let close: (() => void)[] = [];
  afterEach(() => {
    for (const c of close) c();
    close = [];
  });

  it.each<Answer>(['empty', 'timed-out-fault'])(
    'backs off (%s): fewer than 50 Receives in a second, and the deadline still ends it',
    async (answer) => {
      const proxy = await instantProxy(answer);
      close.push(() => proxy.server.close());
      const client = new WinRmClient({
        host: '127.0.0.1',
        port: proxy.port,
        scheme: 'http',
        username: 'svc',
        password: 'not-a-real-password',
      });
      close.push(() => client.close());
      const execution = client.run('cmd.exe', ['/c', 'echo'], { deadlineMs: 1000 });
      await expect(execution.collect()).rejects.toMatchObject({ code: 'WINRM_TIMEOUT' });
      expect(proxy.receives.length).toBeGreaterThan(2);
      expect(proxy.receives.length).toBeLessThan(50);
    },
  );

  it('is cancelled promptly while it waits between empty Receives', async () => {
    const proxy = await instantProxy('empty');
    close.push(() => proxy.server.close());
    const client = new WinRmClient({
      host: '127.0.0.1',
      port: proxy.port,
      scheme: 'http',
      username: 'svc',
      password: 'not-a-real-password',
      emptyReceiveWaitMs: 60_000,
      maxEmptyReceiveWaitMs: 60_000,
    });
    close.push(() => client.close());
    const controller = new AbortController();
    const execution = client.run('cmd.exe', ['/c', 'echo'], { signal: controller.signal });
    const collected = execution.collect();
    // Abort once the first empty Receive has been answered (the client is then in its 60 s wait).
    while (proxy.receives.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(collected).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(proxy.receives.length).toBe(1);
  });
});
