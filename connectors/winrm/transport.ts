import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import { faultError, parseFault, unauthorizedError, WinRmError } from './errors.js';
import { parseXml, type XmlElement } from './xml.js';

export interface TransportOptions {
  host: string;
  port: number;
  https: boolean;
  username: string;
  password: string;
  /** PEM CA bundle trusted for the proxy's certificate, in addition to Node's defaults when omitted. */
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
  /** Sockets kept per proxy; one per concurrent shell operation is plenty. */
  maxSockets: number;
  /** The largest response body accepted (a Receive is bounded by MaxEnvelopeSize). */
  maxResponseBytes: number;
  /** Resolves the proxy's name for each new socket (connectors/guarded-lookup.ts); default: the system's. */
  lookup?: LookupFunction;
}

export interface SoapExchange {
  /** What the request was, for messages: `Receive`, `Create`… */
  action: string;
  body: string;
  /** Total time for the HTTP exchange; must exceed OperationTimeout (the server may hold a Receive that long). */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * HTTP(S) POSTs of SOAP envelopes to one proxy's `/wsman`, over one keep-alive agent, with Basic
 * authentication. Turns transport failures and faults into WinRmErrors with stable codes.
 */
export class WsmanTransport {
  readonly proxy: string;
  readonly endpoint: string;
  private readonly agent: http.Agent;
  private readonly authorization: string;

  constructor(private readonly options: TransportOptions) {
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.proxy = `${host}:${options.port}`;
    this.endpoint = `${options.https ? 'https' : 'http'}://${this.proxy}/wsman`;
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    };
    this.agent = options.https
      ? new https.Agent({ ...agentOptions, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized })
      : new http.Agent(agentOptions);
    // Kept only as the header value; never logged (the logger also redacts `authorization`).
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  }

  /** Sends one envelope; resolves with the parsed response envelope, rejects with a WinRmError. */
  async exchange(x: SoapExchange): Promise<XmlElement> {
    const { status, body } = await this.postOnce(x);
    if (status === 200) return this.parse(x.action, body);
    if (status === 401) throw unauthorizedError(this.proxy, this.options.username, this.options.https);
    if (status === 413) {
      throw new WinRmError(
        'WINRM_ENVELOPE_TOO_LARGE',
        `PowerShell proxy ${this.proxy} refused an oversized ${x.action} (HTTP 413)`,
        {
          proxy: this.proxy,
          httpStatus: 413,
          retryable: true,
        },
      );
    }
    if (body.length > 0 && /Envelope/.test(body.subarray(0, 512).toString('utf8'))) {
      const envelope = await this.parse(x.action, body).catch(
        ignoreBecause('a body that is no readable SOAP fault: the HTTP status is reported instead'),
      );
      const fault = envelope && parseFault(envelope);
      if (fault) throw faultError(this.proxy, x.action, fault, status);
    }
    throw new WinRmError(
      status >= 500 ? 'PROXY_UNAVAILABLE' : 'WINRM_FAULT',
      `PowerShell proxy ${this.proxy} answered ${x.action} with HTTP ${status}` +
        (status === 404 ? ' (is this a WinRM listener? the path is /wsman)' : ''),
      { proxy: this.proxy, httpStatus: status, retryable: status >= 500 },
    );
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private async parse(action: string, body: Buffer): Promise<XmlElement> {
    try {
      return await parseXml(body.toString('utf8'));
    } catch (error) {
      throw new WinRmError(
        'WINRM_FAULT',
        `PowerShell proxy ${this.proxy} answered ${action} with XML that does not parse`,
        {
          proxy: this.proxy,
          cause: error,
        },
      );
    }
  }

  /**
   * A kept-alive socket the proxy already closed fails at once with ECONNRESET. Signal, Delete and
   * Identify are safe to send again, so they get one more try on a fresh socket (cleanup must not
   * fail for that). Create, Command, Send and Receive are not: a dropped Receive may have lost output,
   * so the client reruns the whole command instead (client.ts).
   */
  private async postOnce(x: SoapExchange): Promise<{ status: number; body: Buffer }> {
    try {
      return await this.post(x);
    } catch (error) {
      const safe = x.action === 'Signal' || x.action === 'Delete' || x.action === 'Identify';
      if (!safe || !this.staleSocketErrors.has(error as object) || x.signal?.aborted) throw error;
      return this.post(x);
    }
  }

  private readonly staleSocketErrors = new WeakSet<object>();

  private post(x: SoapExchange): Promise<{ status: number; body: Buffer }> {
    const payload = Buffer.from(x.body, 'utf8');
    const request = (this.options.https ? https : http).request;
    return new Promise((resolve, reject) => {
      if (x.signal?.aborted) return reject(cancelled(this.proxy, x.action, x.signal));
      const req = request({
        host: this.options.host,
        port: this.options.port,
        path: '/wsman',
        method: 'POST',
        agent: this.agent,
        headers: {
          'Content-Type': 'application/soap+xml;charset=UTF-8',
          'Content-Length': payload.length,
          Authorization: this.authorization,
          'User-Agent': 'm365sync WinRM client',
        },
      });
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(error);
      };
      const onAbort = () => fail(cancelled(this.proxy, x.action, x.signal!));
      const timer = setTimeout(
        () =>
          fail(
            new WinRmError(
              'PROXY_UNAVAILABLE',
              `PowerShell proxy ${this.proxy} did not answer ${x.action} within ${x.timeoutMs} ms`,
              { proxy: this.proxy, retryable: true },
            ),
          ),
        x.timeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        x.signal?.removeEventListener('abort', onAbort);
      };
      x.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EDESTINATIONREFUSED') {
          // The proxy's name resolves to an address the allow-list does not name: nothing was sent.
          fail(
            new WinRmError('CONFIGURATION', `PowerShell proxy ${this.proxy} refused: ${error.message}`, {
              proxy: this.proxy,
              retryable: false,
              cause: error,
            }),
          );
          return;
        }
        const wrapped = new WinRmError(
          'PROXY_UNAVAILABLE',
          `PowerShell proxy ${this.proxy} could not be reached for ${x.action}: ${error.code ?? error.message}` +
            (error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || error.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
              ? " (give the proxy certificate's CA bundle in the WinRM CA option)"
              : ''),
          { proxy: this.proxy, retryable: true, cause: error },
        );
        if (req.reusedSocket && error.code === 'ECONNRESET') this.staleSocketErrors.add(wrapped);
        fail(wrapped);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.options.maxResponseBytes) {
            fail(
              new WinRmError(
                'WINRM_FAULT',
                `PowerShell proxy ${this.proxy} sent a ${x.action} response larger than ${this.options.maxResponseBytes} bytes`,
                {
                  proxy: this.proxy,
                },
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) =>
          fail(
            new WinRmError(
              'PROXY_UNAVAILABLE',
              `PowerShell proxy ${this.proxy} broke off its ${x.action} response: ${error.code ?? error.message}`,
              { proxy: this.proxy, retryable: true, cause: error },
            ),
          ),
        );
        res.on('end', () => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks, size) });
        });
      });
      req.end(payload);
    });
  }
}

function cancelled(proxy: string, action: string, signal: AbortSignal): SyncError {
  const reason: unknown = signal.reason;
  if (reason instanceof SyncError) return reason;
  return new WinRmError('CANCELLED', `${action} on PowerShell proxy ${proxy} was cancelled`, {
    proxy,
    cause: reason,
  });
}
