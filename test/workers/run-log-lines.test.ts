/**
 * Every log line of a sync run says which run and which tenant it belongs to (the worker's, the full
 * pull's, Graph's, WinRM's and the proxy pool's), and no line repeats a key (pino child loggers write
 * each binding again, so `component` bound twice appeared twice). A real run of every kind through
 * the in-process worker against the simulated tenant, its log captured at debug.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../observability/logger.js';
import { startEngine, type Engine } from '../e2e/support/engine.js';

const lines: string[] = [];
const logger = createLogger({
  level: 'debug',
  destination: { write: (line: string) => void lines.push(line) },
});

/** The top-level keys of one JSON object, in order and with repeats (JSON.parse keeps only the last). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

let engine: Engine;
let tenantId: string;

beforeAll(async () => {
  engine = await startEngine('run-log-lines', {
    dataset: { seed: 23, users: 30 },
    enableExchange: true,
    logger,
  });
  tenantId = (await engine.stores.tenants.add(engine.sim.tenantInput)).id;
}, 120_000);
afterAll(async () => engine?.close());

describe('the log lines of a run', () => {
  it('the key scanner sees repeated keys', () => {
    expect(topLevelKeys('{"a":1,"b":{"a":2,"c":[{"d":3}]},"e":"x\\"y,\\"a\\":","a":4}')).toEqual([
      'a',
      'b',
      'e',
      'a',
    ]);
  });

  it('each carries the run id and the tenant, Graph and WinRM lines included; no key twice', async () => {
    lines.length = 0;
    // One 429 on /users: the Graph connector says it slows down.
    engine.sim.graph.setFaults([{ kind: 'throttle', path: '/users', retryAfter: { seconds: 0 } }]);
    const run = await engine.sync(tenantId, 'log-lines@test');
    expect(run.status).toBe('succeeded');
    const entries = lines.map((text) => ({ text, entry: JSON.parse(text) as Record<string, unknown> }));
    // The run's own lines, and the connectors' (the 429, the WinRM transport warning and the proxy
    // order, said with the first command of the first run).
    const components = new Set(entries.map((e) => e.entry.component));
    expect(components).toEqual(new Set([undefined, 'graph', 'winrm', 'powershell-proxy-pool']));
    expect(entries.some((e) => /WinRM over HTTP/.test(String(e.entry.msg)))).toBe(true);
    expect(entries.some((e) => e.entry.msg === 'Graph asked us to slow down')).toBe(true);
    for (const { text, entry } of entries) {
      expect(entry, text).toMatchObject({ runId: run.id, tenantId });
      const keys = topLevelKeys(text);
      expect(keys, text).toEqual([...new Set(keys)]);
    }
  });
});
