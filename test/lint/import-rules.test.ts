/**
 * The folder rules of docs/ARCHITECTURE.md are enforced by ESLint (eslint.config.js, no-restricted-imports):
 * an import that breaks one is reported, one that keeps to them is not. Lints source text as if it
 * sat at a path in the tree, through ESLint's Node API with the project's own configuration.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function importProblems(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport {};\n`, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

describe('the folder rules fail the lint', () => {
  it.each([
    [
      'api/example.ts',
      "import { startWorker } from '../workers/worker.js';",
      /api\/ asks the engine through operations/,
    ],
    [
      'api/example.ts',
      "import { table } from '../cli/commands/tenants.js';",
      /Nothing of the product imports the CLI/,
    ],
    ['domain/example.ts', "import { logger } from '../observability/logger.js';", /domain\/ imports nothing/],
    [
      'connectors/winrm/example.ts',
      "import { psLiteral } from '../powershell/ps-quote.js';",
      /never the reverse/,
    ],
    [
      'connectors/graph/example.ts',
      "import { SyncRunStore } from '../mongo/sync-runs.js';",
      /graph\/ uses no other connector/,
    ],
    [
      'connectors/mongo/example.ts',
      "import { addSyncJob } from '../../queues/sync-queue.js';",
      /connectors\/ imports only/,
    ],
    [
      'queues/example.ts',
      "import { createWinRmClient } from '../connectors/winrm/index.js';",
      /queues\/ imports only/,
    ],
    [
      'operations/example.ts',
      "import { startWorker } from '../workers/worker.js';",
      /operations\/ imports only/,
    ],
    [
      'workers/steps/example.ts',
      "import { startSimulatedTenant } from '../../simulators/m365.js';",
      /simulators/,
    ],
    [
      'simulators/winrm/example.ts',
      "import { parseXml } from '../../connectors/winrm/xml.js';",
      /only the protocol constants/,
    ],
    [
      'observability/example.ts',
      "import { SyncRunStore } from '../connectors/mongo/sync-runs.js';",
      /observability\/ imports only domain/,
    ],
    [
      'workers/steps/example.ts',
      "import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';",
      /through its index\.js, its public entrance/,
    ],
    [
      'api/example.ts',
      "import type { TenantStore } from '../connectors/mongo/tenants.js';",
      /through its index\.js, its public entrance/,
    ],
    [
      'operations/example.ts',
      "import { exchangeOrganization } from '../connectors/graph/exchange-organization.js';",
      /through its index\.js, its public entrance/,
    ],
    [
      'cli/commands/example.ts',
      "import { DEFAULT_PORT } from '../../connectors/winrm/options.js';",
      /through its index\.js, its public entrance/,
    ],
    ['domain/example.ts', "import type { Logger } from 'pino';", /domain\/ stays pure/],
    [
      'connectors/powershell/example.ts',
      "import { WinRmClient } from '../winrm/client.js';",
      /powershell\/ uses winrm\/ through its index\.js/,
    ],
    ['domain/example.ts', "import type { Db } from 'mongodb';", /domain\/ stays pure/],
    ['api/example.ts', "import { guardedLookup } from '../connectors/guarded-lookup.js';", /root files/],
    ['queues/example.ts', "import { jittered } from '../connectors/retry.js';", /root files/],
    ['connectors/example.ts', "import { buildStores } from './mongo/index.js';", /root files/],
    [
      'connectors/graph/example.ts',
      "import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';",
      /graph\/ uses no other connector/,
    ],
    ['workers/example.ts', "export const load = () => import('../api/server.js');", /imports statically/],
    [
      'api/example.ts',
      "import { requestSync } from '../operations/request-sync.js';",
      /operations\/index\.js/,
    ],
    [
      'cli/commands/example.ts',
      "import { cancelRun } from '../../operations/cancel-run.js';",
      /operations\/index\.js/,
    ],
    [
      'workers/example.ts',
      "import { requestSync } from '../operations/request-sync.js';",
      /operations\/index\.js/,
    ],
  ])('%s: %s', async (file, source, message) => {
    const problems = await importProblems(file, source);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it.each([
    ['api/example.ts', "import { requestSync } from '../operations/index.js';"],
    ['connectors/powershell/example.ts', "import { WinRmClient } from '../winrm/index.js';"],
    ['operations/example.ts', "import { addSyncJob } from '../queues/sync-queue.js';"],
    ['workers/steps/example.ts', "import { SyncError } from '../../domain/errors.js';"],
    ['simulators/winrm/example.ts', "import { NS } from '../../connectors/winrm/wsman.js';"],
    ['cli/example.ts', "import { startWorker } from '../workers/worker.js';"],
    ['scripts/example.ts', "import { startWorker } from '../workers/worker.js';"],
    ['workers/steps/example.ts', "import { buildStores } from '../../connectors/mongo/index.js';"],
    ['cli/commands/example.ts', "import { DEFAULT_PORT } from '../../connectors/winrm/index.js';"],
    ['domain/example.ts', "import { z } from 'zod';"],
    ['domain/example.ts', "import { createHash } from 'node:crypto';"],
    ['operations/example.ts', "import { guardedLookup } from '../connectors/guarded-lookup.js';"],
    ['workers/example.ts', "import { jittered } from '../connectors/retry.js';"],
    ['connectors/graph/example.ts', "import { retrying } from '../retry.js';"],
  ])('%s may: %s', async (file, source) => {
    expect(await importProblems(file, source)).toEqual([]);
  });
});
