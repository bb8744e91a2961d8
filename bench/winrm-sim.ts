/**
 * The simulated PowerShell proxy for bench/winrm.ts, in its own process so the benchmark's memory
 * figures are the client's alone. Scripts of the form `# bytes N` print N bytes of mixed-script text.
 * Prints `{"port":…}` once listening; stops on SIGTERM.
 */
import { startWinRmSimulator } from '../simulators/winrm/server.js';

const UNIT = `Zoë Ångström — 東京 Ελληνικά 🚀 ${'x'.repeat(40)}\r\n`;

const sim = await startWinRmSimulator({
  accounts: [{ username: 'bench', password: process.env.BENCH_PROXY_PASSWORD ?? 'bench-password' }],
  scriptHost: async (script, output, context) => {
    const total = Number(/# bytes (\d+)/.exec(script)?.[1] ?? 0);
    const unitBytes = Buffer.byteLength(UNIT);
    const block = UNIT.repeat(Math.floor(65_536 / unitBytes));
    const blockBytes = Buffer.byteLength(block);
    let left = total;
    while (left >= blockBytes && !context.signal.aborted) {
      await output.stdout(block);
      left -= blockBytes;
    }
    if (left > 0) await output.stdout('.'.repeat(left));
    return 0;
  },
});
process.stdout.write(`${JSON.stringify({ port: sim.port })}\n`);
process.once('SIGTERM', () => void sim.close().then(() => process.exit(0)));
