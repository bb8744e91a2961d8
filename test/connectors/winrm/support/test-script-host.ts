import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScriptHost } from '../../../../simulators/powershell/script-host.js';

/**
 * A ScriptHost for the WinRM tests: it understands a handful of lines, enough to make a script
 * echo, fail, sleep, print non-ASCII text, or produce megabytes of output.
 *   Write-Output 'text'          one line on stdout ('' is a quote, as in PowerShell)
 *   Write-Error 'text'           a CLIXML error record on stderr
 *   Start-Sleep -Milliseconds N  waits (aborts when the command is terminated)
 *   # describe                   prints the script's length in characters and its sha256
 *   # bytes N                    prints N bytes of mixed-script text, in 64 KB writes, honouring back-pressure
 *   # whoami                     prints the proxy account
 *   exit N                       ends with exit code N
 *   throw 'text'                 fails the script (the simulator reports it on stderr, exit 1)
 */
export const NON_ASCII_LINE = 'Zoë Ångström — 東京 Ελληνικά 🚀 ';

export const testScriptHost: ScriptHost = async (script, output, context) => {
  for (const raw of script.split(/\r?\n|;\s*/)) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^Write-Output\s+'((?:[^']|'')*)'$/i.exec(line))) {
      await output.stdout(`${m[1]!.replace(/''/g, "'")}\r\n`);
    } else if ((m = /^Write-Error\s+'((?:[^']|'')*)'$/i.exec(line))) {
      await output.stderr(clixmlError(m[1]!.replace(/''/g, "'")));
    } else if ((m = /^Start-Sleep\s+-Milliseconds\s+(\d+)$/i.exec(line))) {
      await sleep(Number(m[1]), undefined, { signal: context.signal });
    } else if (line === '# describe') {
      const hash = createHash('sha256').update(script, 'utf8').digest('hex');
      await output.stdout(`length=${script.length} sha256=${hash}\r\n`);
    } else if ((m = /^# bytes (\d+)$/.exec(line))) {
      await produce(Number(m[1]), output.stdout, context.signal);
    } else if (line === '# whoami') {
      await output.stdout(`${context.proxyUser}\r\n`);
    } else if ((m = /^exit\s+(-?\d+)$/i.exec(line))) {
      return Number(m[1]);
    } else if ((m = /^throw\s+'(.*)'$/i.exec(line))) {
      throw new Error(m[1]);
    }
  }
  return 0;
};

/** N bytes of lines mixing ASCII and multi-byte characters; exactly N bytes (padded with ASCII). */
async function produce(
  total: number,
  write: (text: string) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const unit = `${NON_ASCII_LINE}${'x'.repeat(40)}\r\n`;
  const unitBytes = Buffer.byteLength(unit, 'utf8');
  const perWrite = Math.max(1, Math.floor(65_536 / unitBytes));
  let left = total;
  while (left >= unitBytes && !signal.aborted) {
    const n = Math.min(perWrite, Math.floor(left / unitBytes));
    await write(unit.repeat(n));
    left -= n * unitBytes;
  }
  if (left > 0 && !signal.aborted) await write('.'.repeat(left));
}

/** The expected bytes of `# bytes N`, for a test to compare hashes. */
export function expectedBytesHash(total: number): string {
  const unit = `${NON_ASCII_LINE}${'x'.repeat(40)}\r\n`;
  const unitBytes = Buffer.byteLength(unit, 'utf8');
  const hash = createHash('sha256');
  const full = Math.floor(total / unitBytes);
  const block = unit.repeat(1000);
  for (let i = 0; i < Math.floor(full / 1000); i++) hash.update(block);
  hash.update(unit.repeat(full % 1000));
  hash.update('.'.repeat(total - full * unitBytes));
  return hash.digest('hex');
}

function clixmlError(message: string): string {
  const escaped = message
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, '_x000D__x000A_');
  return (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">' +
    `<S S="Error">${escaped}_x000D__x000A_</S></Objs>`
  );
}
