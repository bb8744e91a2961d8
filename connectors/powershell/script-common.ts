/**
 * What every generated script starts with: strict error handling, no progress noise, UTF-8 output,
 * and the small functions that write the JSON Lines contract (records.ts). Each entity kind runs in
 * its own try/catch (Invoke-M365Kind), so one failing kind writes an `err` line and the others go on.
 */
import type { EntityKindName } from '../../domain/entity-kinds.js';
import { psLiteral } from './ps-quote.js';

export const SCRIPT_PRELUDE = String.raw`$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)
$OutputEncoding = [System.Text.UTF8Encoding]::new($false)

function Write-M365Line {
  param([string]$Line)
  [Console]::Out.WriteLine($Line)
}

# One entity kind: every object as one compact JSON line, then an end line with the count; on any
# error an err line instead, and the script goes on with the next kind.
function Invoke-M365Kind {
  param([string]$Kind, [scriptblock]$Read)
  $count = 0
  try {
    & $Read | ForEach-Object {
      Write-M365Line ('{"t":"obj","kind":"' + $Kind + '","o":' + (ConvertTo-Json -InputObject $_ -Compress -Depth 10) + '}')
      $count++
    }
    Write-M365Line ('{"t":"end","kind":"' + $Kind + '","count":' + $count + '}')
  } catch {
    $message = ConvertTo-Json -InputObject ([string]$_.Exception.Message) -Compress
    Write-M365Line ('{"t":"err","kind":"' + $Kind + '","count":' + $count + ',"message":' + $message + '}')
  }
}

# Paged cmdlets (-First/-Skip, -Top/-Skip): ask page after page until a short page comes back.
function Read-M365Pages {
  param([int]$PageSize, [scriptblock]$Page)
  $skip = 0
  while ($true) {
    $items = @(& $Page $PageSize $skip)
    $items
    if ($items.Count -lt $PageSize) { break }
    $skip += $items.Count
  }
}
`;

export const SCRIPT_DONE = `Write-M365Line '{"t":"done"}'`;

/** `Invoke-M365Kind -Kind 'dial_plans' -Read { ... }` */
export function kindBlock(kind: EntityKindName, read: string): string {
  return `Invoke-M365Kind -Kind ${psLiteral(kind)} -Read {\n  ${read.split('\n').join('\n  ')}\n}`;
}

/** `Read-M365Pages -PageSize 100 -Page { param($First, $Skip) <cmdlet> }` */
export function pagedRead(pageSize: string, call: string): string {
  return `Read-M365Pages -PageSize ${pageSize} -Page { param($First, $Skip) ${call} }`;
}

/** Lines that build a PSCredential from a user name and a password, each a quoted literal. */
export function credentialLines(variable: string, username: string, password: string): string[] {
  return [
    `$${variable}User = ${psLiteral(username)}`,
    `$${variable}Password = ConvertTo-SecureString -String ${psLiteral(password)} -AsPlainText -Force`,
    `$${variable} = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $${variable}User, $${variable}Password`,
  ];
}
