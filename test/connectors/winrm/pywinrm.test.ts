import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWinRmSimulator, type WinRmSimulator } from '../../../simulators/winrm/server.js';
import { testScriptHost } from './support/test-script-host.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const driver = fileURLToPath(new URL('./pywinrm_driver.py', import.meta.url));

/**
 * The simulator must speak the WS-Management that real clients speak: pywinrm (the reference
 * Python client, Debian's python3-winrm) runs a cmd command and a PowerShell command against it.
 */
describe('pywinrm against the simulated PowerShell proxy', () => {
  let sim: WinRmSimulator;

  beforeAll(async () => {
    const probe = existsSync(PYTHON)
      ? await run(PYTHON, ['-c', 'import winrm']).then(
          () => '',
          (error: Error) => error.message,
        )
      : `${PYTHON} does not exist`;
    if (probe !== '') {
      throw new Error(
        `pywinrm is missing (${probe.split('\n')[0]}). Install Debian's python3-winrm: ` +
          '`bash scripts/ensure-pywinrm.sh` (or `apt-get install -y python3-winrm`).',
      );
    }
    sim = await startWinRmSimulator({
      accounts: [{ username: 'svc-proxy', password: 'Pyw1nrm-P4ss!' }],
      scriptHost: testScriptHost,
      hostName: 'PSPROXY07',
    });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('runs cmd and PowerShell commands and returns their output and exit codes', async () => {
    const endpoint = `127.0.0.1:${sim.port}`;
    const { stdout } = await run(PYTHON, [driver, endpoint, 'svc-proxy', 'Pyw1nrm-P4ss!'], {
      timeout: 60_000,
    });
    const result = JSON.parse(stdout) as Record<string, Record<string, unknown> | string>;

    expect(result.ipconfig).toMatchObject({ code: 0, stderr: '' });
    expect((result.ipconfig as { stdout: string }).stdout).toContain('Windows IP Configuration');
    expect(result.echo_exit).toEqual({ stdout: 'm365sync\r\n', code: 7 });
    expect(result.run_ps).toEqual({ stdout: 'from PowerShell\r\n', stderr: '', code: 3 });
    expect((result.ps_error as { stderr: string }).stderr).toMatch(
      /^#< CLIXML\r\n<Objs .*<S S="Error">it failed_x000D__x000A_<\/S><\/Objs>$/,
    );
    expect((result.ps_error as { code: number }).code).toBe(1);
    expect(result.protocol).toEqual({ stdout: 'reused shell\r\n', code: 0 });
    expect(result.bad_password).toBe('InvalidCredentialsError');

    // pywinrm deletes its shells; the simulator saw the whole lifecycle, codepage 437 (its default) then 65001.
    expect(sim.counters.openShells).toBe(0);
    expect(sim.counters.shellsCreated).toBe(5);
    expect(sim.counters.shellsDeleted).toBe(5);
    expect(sim.counters.commandsSignalled).toBe(5);
    expect(sim.counters.unauthorized).toBe(1);
    expect(sim.actions.filter((a) => a.action === 'Create').map((a) => a.detail)).toEqual([
      'codepage=437',
      'codepage=437',
      'codepage=437',
      'codepage=437',
      'codepage=65001',
    ]);
  });
});
