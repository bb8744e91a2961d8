/**
 * Decoder throughput and memory: the simulated tenant runs a generated Teams full pull inflated to
 * about N MB (default 50) of JSON Lines with multi-byte text; the output goes, with back-pressure,
 * through splitScriptOutput in 8 KiB chunks (as WinRM Receive would cut it), and we report MB/s,
 * records and peak heap. Run: `npx tsx bench/powershell.ts [MB] [KiB per object]`.
 */
import { splitScriptOutput, type OutputChunk } from '../connectors/powershell/script-output.js';
import { buildTeamsPullScript } from '../connectors/powershell/teams-script.js';
import { validateTenant } from '../domain/tenant.js';
import { generateDataset } from '../simulators/dataset.js';
import { createTenantScriptHost } from '../simulators/powershell/tenant-host.js';
import { validTenantInput } from '../simulators/example-tenant.js';

const megabytes = Number(process.argv[2] ?? 50);
const ds = generateDataset({ seed: 1 });
const tenant = validateTenant(validTenantInput({ 'Microsoft 365': { tenant_id: ds.tenantId } }));
const objects = 830; // the Teams objects of the default data set
// Optional second argument: the size of one object in KiB; objects repeat to reach the total.
const objectKiB = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const padBytes = objectKiB ? objectKiB * 1024 : Math.round((megabytes * 1024 * 1024) / objects);
const repeatObjects = Math.max(1, Math.round((megabytes * 1024 * 1024) / (padBytes * objects)));
const host = createTenantScriptHost({
  dataset: ds,
  teamsAccounts: [{ username: 'teams-admin@contoso.example', password: 'Teams-P4ss!' }],
  faults: { padBytes, repeatObjects },
});

/** A one-slot channel: the host's write waits until the decoder has taken the previous chunk. */
function channel() {
  const queue: OutputChunk[] = [];
  let wake: (() => void) | undefined;
  let taken: (() => void) | undefined;
  let ended = false;
  return {
    bytes: 0,
    async push(chunk: OutputChunk) {
      this.bytes += chunk.data.length;
      queue.push(chunk);
      wake?.();
      await new Promise<void>((resolve) => (taken = resolve));
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          for (let i = 0; i < chunk.data.length; i += 8192)
            yield { stream: chunk.stream, data: chunk.data.subarray(i, i + 8192) };
          taken?.();
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

// Sampled in the loop: the pipeline runs on promises alone and would starve a timer.
let peakHeap = 0;
const baseline = process.memoryUsage().heapUsed;
const pipe = channel();
const started = performance.now();
const run = host(
  buildTeamsPullScript(tenant),
  {
    stdout: (text) => pipe.push({ stream: 'stdout', data: Buffer.from(text) }),
    stderr: (text) => pipe.push({ stream: 'stderr', data: Buffer.from(text) }),
  },
  { proxyUser: 'bench', signal: new AbortController().signal },
).finally(() => pipe.end());

const output = splitScriptOutput(pipe, { maxBytes: 1024 * 1024 * 1024 });
let records = 0;
for await (const record of output.records) {
  if (++records % 20 === 0 && record.t === 'obj')
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}
const exitCode = await run;
const ms = performance.now() - started;
const mb = pipe.bytes / 1024 / 1024;
console.log(
  `powershell decode: ${records} records, ${mb.toFixed(1)} MB in ${(ms / 1000).toFixed(2)} s ` +
    `(${(mb / (ms / 1000)).toFixed(1)} MB/s, host + decoder in one process); exit ${exitCode}; ` +
    `peak heap ${(peakHeap / 1024 / 1024).toFixed(1)} MB (baseline ${(baseline / 1024 / 1024).toFixed(1)} MB)`,
);
