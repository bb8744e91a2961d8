import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import type { WinRmClient } from '../../../connectors/winrm/client.js';
import type { SyncError } from '../../../domain/errors.js';
import type { WinRmSimulator } from '../../../simulators/winrm/server.js';
import {
  capturingLogger,
  clientFor,
  expectNoShellLeft,
  PROXY_PASSWORD,
  PROXY_USER,
  simulator,
} from './support/simulated-proxy.js';
import { eventually } from '../../support/eventually.js';
import { expectedBytesHash, NON_ASCII_LINE } from './support/test-script-host.js';

/** The WinRM client against the simulated PowerShell proxy, over real sockets on loopback. */
describe('WinRmClient', () => {
  let sim: WinRmSimulator;
  let client: WinRmClient | undefined;
  let logs: ReturnType<typeof capturingLogger>;
  const errors: unknown[] = [];

  beforeEach(() => {
    logs = capturingLogger();
    errors.length = 0;
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    if (sim) {
      expectNoShellLeft(sim);
      await sim.close();
    }
    // No secret in any log line or error message, whatever the test did.
    const basic = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
    for (const line of logs.lines) {
      expect(line).not.toContain(PROXY_PASSWORD);
      expect(line).not.toContain(basic);
    }
    for (const error of errors) {
      const e = error as SyncError;
      expect(`${e.message} ${e.stack} ${JSON.stringify(e)}`).not.toContain(PROXY_PASSWORD);
      expect(`${e.message} ${JSON.stringify(e)}`).not.toContain(basic);
    }
  });

  /** Runs and returns the error it failed with (and keeps it for the secret check). */
  async function failure(run: () => Promise<unknown>): Promise<SyncError> {
    try {
      await run();
    } catch (error) {
      errors.push(error);
      return error as SyncError;
    }
    throw new Error('expected the command to fail');
  }

  it('runs a script through Create, Command, Send, Receive, Signal and Delete, in that order', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    const { stdout, stderr, result } = await client
      .execute("Write-Output 'hello'\nWrite-Error 'it failed'\nexit 3")
      .collect();

    expect(stdout.toString('utf8')).toBe('hello\r\n');
    expect(stderr.toString('utf8')).toContain('<S S="Error">it failed_x000D__x000A_</S>');
    expect(result).toMatchObject({ exitCode: 3, proxy: `127.0.0.1:${sim.port}`, attempts: 1 });
    expect(sim.actions.map((a) => a.action)).toEqual([
      'Create',
      'Command',
      'Send',
      'Receive',
      'Signal',
      'Delete',
    ]);
    expect(sim.actions.map((a) => a.detail)).toEqual([
      'codepage=65001',
      'bootstrap',
      'End',
      'Done:3',
      'terminate',
      undefined,
    ]);
    // One shell and one command throughout.
    expect(new Set(sim.actions.map((a) => a.shellId)).size).toBe(1);
    // HTTP is allowed (the documented Basic set-up) but warned about.
    expect(logs.lines.join('')).toContain('WinRM over HTTP');
  });

  it('reports a script that throws as a CLIXML error record and exit code 1', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    const { stderr, result } = await client
      .execute("Write-Output 'start'\nthrow 'Connect-MicrosoftTeams failed'")
      .collect();
    expect(stderr.toString()).toMatch(
      /^#< CLIXML\r\n<Objs .*<S S="Error">Connect-MicrosoftTeams failed_x000D__x000A_<\/S><\/Objs>$/,
    );
    expect(result.exitCode).toBe(1);
  });

  it('runs plain cmd commands and reports their exit codes', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    const ok = await client.run('echo', ['m365sync']).collect();
    expect(ok.stdout.toString()).toBe('m365sync\r\n');
    expect(ok.result.exitCode).toBe(0);
    const failed = await client.run('exit', ['/b', '42']).collect();
    expect(failed.result.exitCode).toBe(42);
  });

  it('runs a 200 KB script, sent to stdin in Sends that fit the envelope', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { maxEnvelopeSize: 51_200 });
    const filler = Array.from(
      { length: 2600 },
      (_, i) => `# ${i} ${NON_ASCII_LINE}'quoted' "double" $(subexpr) \`tick`,
    ).join('\n');
    const script = `# describe\n${filler}\n`;
    expect(Buffer.byteLength(script)).toBeGreaterThan(200_000);

    const { stdout, result } = await client.execute(script).collect();
    const hash = createHash('sha256').update(script, 'utf8').digest('hex');
    expect(stdout.toString('utf8')).toBe(`length=${script.length} sha256=${hash}\r\n`);
    expect(result.exitCode).toBe(0);
    const sends = sim.actions.filter((a) => a.action === 'Send');
    expect(sends.length).toBeGreaterThanOrEqual(5);
    expect(sends.map((s) => s.detail)).toEqual([...Array(sends.length - 1).fill(undefined), 'End']);
  });

  it('shrinks its Sends when the proxy refuses an envelope as too large (HTTP 413)', async () => {
    sim = await simulator({ maxEnvelopeSizeKb: 40 });
    client = clientFor(sim, logs.logger); // assumes 150 KB envelopes
    const script = `# describe\n${'# filler line of a long script\n'.repeat(8000)}`;
    const { stdout } = await client.execute(script).collect();
    expect(stdout.toString()).toContain(`length=${script.length}`);
    expect(client.sendChunkBytes).toBeLessThan(40 * 1024);
  });

  it('streams 50 MB of output with back-pressure, keeping memory bounded', async () => {
    const total = 50 * 1024 * 1024;
    sim = await simulator({ outputHighWaterBytes: 1 << 20 });
    client = clientFor(sim, logs.logger);
    const hash = createHash('sha256');
    let bytes = 0;
    let largestChunk = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const execution = client.execute(`# bytes ${total}`);
    for await (const chunk of execution) {
      hash.update(chunk.data);
      bytes += chunk.data.length;
      largestChunk = Math.max(largestChunk, chunk.data.length);
      if (bytes % (4 << 20) < chunk.data.length)
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    expect(bytes).toBe(total);
    expect(hash.digest('hex')).toBe(expectedBytesHash(total));
    expect((await execution.result).exitCode).toBe(0);
    // Many Receives, each bounded by the envelope; never the whole output at once.
    expect(sim.counters.receives).toBeGreaterThan(300);
    expect(largestChunk).toBeLessThanOrEqual(sim.options.streamChunkBytes);
    expect(heapPeak - heapBefore).toBeLessThan(40 * 1024 * 1024);
  }, 120_000);

  it('keeps non-ASCII text intact although Receive chunks split UTF-8 characters', async () => {
    sim = await simulator({ streamChunkBytes: 7, maxReceiveBytes: 50 });
    client = clientFor(sim, logs.logger);
    const lines = Array.from({ length: 20 }, (_, i) => `${i} ${NON_ASCII_LINE}`);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let text = '';
    for await (const chunk of client.execute(lines.map((l) => `Write-Output '${l}'`).join('\n'))) {
      text += decoder.decode(chunk.data, { stream: true });
    }
    text += decoder.decode();
    expect(text).toBe(lines.map((l) => `${l}\r\n`).join(''));
    expect(sim.counters.utf8SplitChunks).toBeGreaterThan(10);
  });

  it('sends Receive again after TimedOut faults while a script is quiet', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { operationTimeoutMs: 200 });
    const { stdout, result } = await client
      .execute("Start-Sleep -Milliseconds 900\nWrite-Output 'late'")
      .collect();
    expect(stdout.toString()).toBe('late\r\n');
    expect(result.exitCode).toBe(0);
    expect(sim.counters.timedOutFaults).toBeGreaterThanOrEqual(3);
  });

  it('terminates a command that outlives its deadline, and still deletes the shell', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { operationTimeoutMs: 200 });
    const error = await failure(() =>
      client!.execute('Start-Sleep -Milliseconds 10000', { deadlineMs: 700 }).collect(),
    );
    expect(error.code).toBe('WINRM_TIMEOUT');
    expect(error.message).toMatch(/deadline/);
    expect(sim.actions.map((a) => a.action).slice(-2)).toEqual(['Signal', 'Delete']);
  });

  it('waits out MaxShellsPerUser quota faults until a shell closes', async () => {
    sim = await simulator({ maxShellsPerUser: 1 });
    client = clientFor(sim, logs.logger);
    const runs = await Promise.all(
      [1, 2, 3].map((i) =>
        client!.execute(`Start-Sleep -Milliseconds 150\nWrite-Output 'run ${i}'`).collect(),
      ),
    );
    expect(runs.map((r) => r.stdout.toString())).toEqual(['run 1\r\n', 'run 2\r\n', 'run 3\r\n']);
    expect(sim.counters.quotaFaults).toBeGreaterThan(0);
    expect(sim.counters.peakOpenShells).toBe(1);
  });

  it('waits out a MaxConcurrentOperationsPerUser fault on Command', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    sim.failNext('Command', 'quota-operations', 2);
    const { stdout } = await client.execute("Write-Output 'after quota'").collect();
    expect(stdout.toString()).toBe('after quota\r\n');
    expect(sim.actions.filter((a) => a.action === 'Fault').map((a) => a.detail)).toEqual([
      'Command:QuotaLimit:2150859174',
      'Command:QuotaLimit:2150859174',
    ]);
  });

  it('gives up on a quota that never frees, with an error saying what to change', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { quotaRetries: 2 });
    sim.failNext('Create', 'quota-shells', 3);
    const error = await failure(() => client!.execute("Write-Output 'x'").collect());
    expect(error).toMatchObject({ code: 'WINRM_QUOTA', retryable: true });
    expect(error.message).toMatch(/MaxShellsPerUser/);
  });

  it('recreates the shell when the proxy restarted before any output', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { operationTimeoutMs: 200 });
    const execution = client.execute("Start-Sleep -Milliseconds 400\nWrite-Output 'second try'");
    const collected = execution.collect();
    // Restart once the first command is running.
    await eventually(async () => sim.actions.some((a) => a.action === 'Send'), 10_000);
    sim.restart();
    const { stdout, result } = await collected;
    expect(stdout.toString()).toBe('second try\r\n');
    expect(result.attempts).toBe(2);
    expect(sim.counters.shellsLost).toBe(1);
    expect(sim.actions.some((a) => a.action === 'Fault' && a.detail === 'Receive:InvalidSelectors')).toBe(
      true,
    );
  });

  it('fails retryably when the shell is lost after output reached the caller', async () => {
    sim = await simulator({ outputHighWaterBytes: 1024, maxReceiveBytes: 1024 });
    client = clientFor(sim, logs.logger);
    const error = await failure(async () => {
      for await (const _chunk of client!.execute('# bytes 1000000')) sim.restart();
    });
    expect(error).toMatchObject({ code: 'WINRM_SHELL_NOT_FOUND', retryable: true });
  });

  it('reruns the command in a new shell when a connection drops before any output', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    sim.failNext('Receive', 'drop');
    const { stdout, result } = await client.execute("Write-Output 'survived'").collect();
    expect(stdout.toString()).toBe('survived\r\n');
    expect(result.attempts).toBe(2);
    expect(sim.counters.droppedConnections).toBe(1);
  });

  it('sends Signal and Delete again when their kept-alive connection was dropped, so no shell leaks', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    sim.failNext('Signal', 'drop');
    sim.failNext('Delete', 'drop');
    const { stdout } = await client.execute("Write-Output 'cleaned up'").collect();
    expect(stdout.toString()).toBe('cleaned up\r\n');
    expect(sim.counters.droppedConnections).toBe(2);
    expect(sim.counters.shellsDeleted).toBe(1);
    expect(sim.counters.commandsSignalled).toBe(1);
  });

  it('gives up on a proxy slower than OperationTimeout plus the network allowance', async () => {
    sim = await simulator({ responseDelayMs: 600 });
    client = clientFor(sim, logs.logger, { operationTimeoutMs: 100, networkDelayMs: 200, attempts: 1 });
    const error = await failure(() => client!.execute("Write-Output 'x'").collect());
    expect(error).toMatchObject({ code: 'PROXY_UNAVAILABLE', retryable: true });
    expect(error.message).toMatch(/did not answer Create within 300 ms/);
    // The shell the slow proxy created after we gave up idles out there (here: a restart, once the
    // proxy has created it).
    await eventually(async () => sim.counters.shellsCreated === 1, 10_000);
    sim.restart();
  });

  it('explains a 401: wrong password, Basic disabled, domain account, unencrypted traffic', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger, { password: `${PROXY_PASSWORD}-wrong` });
    const error = await failure(() => client!.execute("Write-Output 'x'").collect());
    expect(error.code).toBe('WINRM_AUTH');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/proxyPassword/);
    expect(error.message).toMatch(/Basic/);
    expect(error.message).toMatch(/local accounts/);
    expect(error.message).toMatch(/AllowUnencrypted/);
    expect(error.message).not.toContain(`${PROXY_PASSWORD}-wrong`);
    expect(sim.counters.unauthorized).toBe(1);
  });

  it('gets 401 over HTTP when the proxy refuses unencrypted traffic', async () => {
    sim = await simulator({ allowUnencrypted: false });
    client = clientFor(sim, logs.logger);
    const error = await failure(() => client!.identify());
    expect(error.code).toBe('WINRM_AUTH');
    expect(error.message).toMatch(/AllowUnencrypted="true"/);
  });

  it('verifies the HTTPS certificate against the given CA bundle, and refuses an unknown one', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    sim = await simulator({ tls: { key: pems.private, cert: pems.cert }, allowUnencrypted: false });
    client = clientFor(sim, logs.logger, { scheme: 'https', ca: pems.cert });
    const { stdout } = await client.execute("Write-Output 'over TLS'").collect();
    expect(stdout.toString()).toBe('over TLS\r\n');
    expect(logs.lines.join('')).not.toContain('WinRM over HTTP');

    const untrusting = clientFor(sim, logs.logger, { scheme: 'https', attempts: 1 });
    const error = await failure(() => untrusting.execute("Write-Output 'x'").collect());
    untrusting.close();
    expect(error.code).toBe('PROXY_UNAVAILABLE');
    expect(error.message).toMatch(/CA/);
  });

  it('stops a command when the caller aborts, and when the caller stops reading', async () => {
    sim = await simulator({ outputHighWaterBytes: 4096, maxReceiveBytes: 4096 });
    client = clientFor(sim, logs.logger);
    const controller = new AbortController();
    const error = await failure(async () => {
      for await (const _chunk of client!.execute('# bytes 10000000', { signal: controller.signal }))
        controller.abort();
    });
    expect(error.code).toBe('CANCELLED');

    const execution = client.execute('# bytes 10000000');
    for await (const _chunk of execution) break;
    await expect(execution.result).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(sim.counters.commandsSignalled).toBe(2);
  });

  it('stops a command whose output exceeds the cap', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    const error = await failure(() =>
      client!.execute('# bytes 3000000', { maxOutputBytes: 1_000_000 }).collect(),
    );
    expect(error.code).toBe('OUTPUT_TOO_LARGE');
    expect(error.message).toMatch(/1000000 bytes/);
  });

  it('answers Identify with our credentials', async () => {
    sim = await simulator();
    client = clientFor(sim, logs.logger);
    expect(await client.identify()).toMatchObject({ vendor: 'Microsoft Corporation' });
  });
});
