/** Runs a script through the simulated tenant host and hands back its output as the WinRM client would. */
import { validateTenant, type TenantConfig, type TenantInput } from '../../../../domain/tenant.js';
import { validTenantInput } from '../../../support/fixtures.js';
import type { OutputChunk } from '../../../../connectors/powershell/script-output.js';
import type { ScriptHost } from '../../../../simulators/powershell/script-host.js';

export const TEAMS_USER = 'teams-admin@contoso.example';
export const TEAMS_PASSWORD = 'Teams-P4ss!';
export const TEAMS_THUMBPRINT = '0123456789ABCDEF0123456789ABCDEF01234567';
export const EXCHANGE_THUMBPRINT = 'FEDCBA9876543210FEDCBA9876543210FEDCBA98';

export function tenantFor(tenantId: string, overrides: TenantInput = {}): TenantConfig {
  const input = validTenantInput({
    'Microsoft 365': { tenant_id: tenantId },
    'Microsoft Exchange': { enable_exchange: true, exchange_certificate_thumbprint: EXCHANGE_THUMBPRINT },
  });
  for (const [group, fields] of Object.entries(overrides)) {
    const current = (input as Record<string, unknown>)[group];
    (input as Record<string, unknown>)[group] =
      fields && typeof fields === 'object' && current && typeof current === 'object'
        ? { ...current, ...fields }
        : fields;
  }
  return validateTenant(input);
}

export interface RunResult {
  exitCode: number;
  chunks: OutputChunk[];
  stdout: string;
  stderr: string;
}

export async function runScript(
  host: ScriptHost,
  script: string,
  signal = new AbortController().signal,
): Promise<RunResult> {
  const chunks: OutputChunk[] = [];
  const exitCode = await host(
    script,
    {
      stdout: async (text) => void chunks.push({ stream: 'stdout', data: Buffer.from(text, 'utf8') }),
      stderr: async (text) => void chunks.push({ stream: 'stderr', data: Buffer.from(text, 'utf8') }),
    },
    { proxyUser: 'svc-proxy', signal },
  );
  const text = (s: OutputChunk['stream']) =>
    Buffer.concat(chunks.filter((c) => c.stream === s).map((c) => c.data)).toString('utf8');
  return { exitCode, chunks, stdout: text('stdout'), stderr: text('stderr') };
}

/**
 * The same bytes re-cut into small pieces of varying size, as many WinRM Receive responses would
 * deliver them: characters and lines split anywhere.
 */
export async function* rechunk(
  chunks: OutputChunk[],
  sizes = [1, 7, 3, 64, 2, 511, 5],
): AsyncIterable<OutputChunk> {
  let k = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.data.length;) {
      const size = sizes[k++ % sizes.length]!;
      yield { stream: chunk.stream, data: chunk.data.subarray(i, i + size) };
      i += size;
    }
  }
}

/** Values an attacker or an unlucky operator could type. */
export const NASTY = [
  "O'Brien",
  "''",
  "'",
  '\u2018quoted\u2019',
  '\u201Alow\u201B',
  "'\u2019'\u2018",
  '"double"',
  '`backtick`n',
  '$(Remove-Item C:\\ -Recurse)',
  '$env:USERNAME',
  '; exit 0; #',
  'a\nb\r\nc',
  'Zoë Ünal 日本語 😀',
  "'; Write-Output 'pwned",
  "@'\nhere\n'@",
  '#comment',
  '<# block #>',
  '\t tab and spaces ',
  '',
];
