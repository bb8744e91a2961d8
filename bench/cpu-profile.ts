/**
 * Where a worker's CPU goes: a V8 CPU profile (`.cpuprofile`, written by bench/worker-child.ts while
 * a benchmark's syncs run) read back as self time per function and per source area of the engine
 * (Graph connector, store, MongoDB driver, WinRM, PowerShell decoders, BullMQ/ioredis, node internals,
 * GC, …). The worker runs as one esbuild bundle (bench/children.ts): its functions are named by the
 * bundle's source map, read with node's own `SourceMap`.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled CPU time, ms (idle excluded). */
  totalMs: number;
  /** Self time per source area, ms, largest first. */
  areas: { area: string; ms: number; share: number }[];
  /**
   * The same time with node's internals (sockets, TLS, buffers, native calls) charged to the nearest
   * caller outside them: which part of the engine or which dependency made that work.
   */
  byCaller: { area: string; ms: number; share: number }[];
  /** The functions with the most self time, ms, with where they are (source file:line). */
  top: { fn: string; where: string; area: string; ms: number; share: number }[];
}

const NODE_INTERNALS = 'node internals (streams, net, tls, crypto, timers, native)';
const GRAPH = 'Graph connector (connectors/graph, undici)';
const WINRM = 'WinRM client (connectors/winrm, xml2js, sax)';

/** The source area of a function, from its (source-mapped) file and its name. */
export function sourceArea(file: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8 outside JavaScript (compiler, runtime)';
  const f = file.replaceAll('\\', '/');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1];
  if (pkg === 'mongodb' || pkg === 'bson' || pkg === 'mongodb-connection-string-url')
    return 'MongoDB driver (mongodb, bson)';
  if (pkg === 'bullmq' || pkg === 'ioredis' || pkg === 'bottleneck' || pkg === 'msgpackr')
    return 'queue and Redis (bullmq, ioredis, bottleneck)';
  if (pkg === 'undici' || f.startsWith('node:internal/deps/undici'))
    return 'Graph connector (connectors/graph, undici)';
  if (pkg === 'xml2js' || pkg === 'sax') return WINRM; // the WinRM client's XML parser (connectors/winrm/xml.ts)
  if (pkg === 'pino' || pkg === 'pino-std-serializers' || pkg === 'sonic-boom') return 'logging (pino)';
  if (pkg === 'zod') return 'validation (zod)';
  if (f.startsWith('wasm://')) return GRAPH; // undici's HTTP parser (llhttp) is WebAssembly
  if (pkg) return `other dependencies (${pkg})`;
  if (f.startsWith('node:') || f === '') return NODE_INTERNALS;
  for (const [dir, area] of [
    ['connectors/graph/', GRAPH],
    ['connectors/mongo/', 'store (connectors/mongo)'],
    ['connectors/winrm/', WINRM],
    ['connectors/powershell/', 'PowerShell decoders (connectors/powershell)'],
    ['connectors/', 'other connectors (connectors/)'],
    ['workers/', 'engine (workers/)'],
    ['queues/', 'queue (queues/)'],
    ['domain/', 'domain (domain/)'],
    // Charged to their caller, most of it is the inspector answering Profiler.stop with the profile
    // (bench/worker-child.ts): inside the profile, but after the CPU a benchmark measures.
    ['bench/', 'the benchmark (its hooks; the profiler’s own stop, not in the measured CPU)'],
  ] as const)
    if (f.includes(dir)) return area;
  return `other (${f})`;
}

/** Reads a `.cpuprofile`; `bundle` is the worker bundle whose `<bundle>.map` names its sources. */
export function summarizeProfile(path: string, bundle: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  let map: SourceMap | undefined;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')));
  } catch {
    map = undefined; // no map: functions of the bundle are named by the bundle's own lines
  }
  const bundleName = bundle.split('/').pop()!;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const areaOf = new Map<number, string>();
  const callerUs = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    let file = url.startsWith('file://') ? fileURLToPath(url) : url;
    let line = lineNumber + 1;
    if (map && file.endsWith(bundleName)) {
      const entry = map.findEntry(lineNumber, columnNumber) as {
        originalSource?: string;
        originalLine?: number;
      };
      if (entry.originalSource) {
        file = entry.originalSource
          .replace(/^(\.\.\/)+/, '')
          .replace(/^file:\/\/.*?\/(?=node_modules|[a-z]+\/)/, '');
        line = (entry.originalLine ?? 0) + 1;
      }
    }
    const short = file.replace(/^.*?(node_modules\/)/, '$1');
    const where = short ? `${short}:${line}` : '(native)';
    const fn = functionName || '(anonymous)';
    const area = sourceArea(file, functionName);
    areaOf.set(node.id, area);
    if (us === 0) continue;
    const key = `${fn} ${where}`;
    const entry = byFunction.get(key) ?? { fn, where, area, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  // Node's internals charged to their nearest caller outside them (nodes are listed parents first,
  // but the walk does not rely on it).
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0 || !areaOf.has(node.id)) continue;
    let id: number | undefined = node.id;
    let area = areaOf.get(id)!;
    while (area === NODE_INTERNALS && (id = parent.get(id)) !== undefined) {
      const up = areaOf.get(id);
      if (up && up !== NODE_INTERNALS && !up.startsWith('V8 ')) area = up;
    }
    callerUs.set(area, (callerUs.get(area) ?? 0) + us);
  }
  const functions = [...byFunction.values()];
  const totalUs = functions.reduce((n, f) => n + f.us, 0) || 1;
  const areas = new Map<string, number>();
  for (const f of functions) areas.set(f.area, (areas.get(f.area) ?? 0) + f.us);
  const listed = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: ms(us), share: share(us) }));
  const ms = (us: number) => Math.round(us / 100) / 10;
  const share = (us: number) => Math.round((us / totalUs) * 1000) / 10;
  return {
    totalMs: ms(totalUs),
    areas: listed(areas),
    byCaller: listed(callerUs),
    top: functions
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, area: f.area, ms: ms(f.us), share: share(f.us) })),
  };
}
