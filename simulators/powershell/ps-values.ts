/** The values the simulated PowerShell host passes around while it interprets a script. */
import type { Expr } from './ps-parser.js';

/** An error as PowerShell reports it: message, CategoryInfo and FullyQualifiedErrorId. */
export class PsError extends Error {
  constructor(
    message: string,
    readonly category: string,
    readonly errorId: string,
    /** The command the error came from, shown before the message (`Get-CsCallQueue : ...`). */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'PsError';
  }
}

/** The process dies (not catchable by the script): simulated crash or a terminate signal. */
export class ProcessDeath extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ProcessDeath';
  }
}

export class SecureStr {
  constructor(readonly plain: string) {}
}

export class PsCredential {
  constructor(
    readonly userName: string,
    readonly password: SecureStr,
  ) {}
}

/** A DateTime: ConvertTo-Json writes `\/Date(ms)\/` in Windows PowerShell 5.1, ISO-8601 in 7. */
export class PsDate {
  constructor(readonly ms: number) {}
}

/** An enum value: ConvertTo-Json writes its number (no -EnumsAsStrings in 5.1). */
export class PsEnum {
  constructor(
    readonly name: string,
    readonly value: number,
  ) {}
}

/** Something the host carries but does not evaluate (`[System.Text.UTF8Encoding]::new($false)`). */
export class Opaque {
  constructor(readonly text: string) {}
}

export class Scope {
  private readonly vars = new Map<string, unknown>();
  constructor(readonly parent?: Scope) {}

  get(name: string): unknown {
    const key = name.toLowerCase();
    if (this.vars.has(key)) return this.vars.get(key);
    return this.parent?.get(name);
  }

  set(name: string, value: unknown): void {
    this.vars.set(name.toLowerCase(), value);
  }
}

export class ScriptBlockValue {
  constructor(
    readonly block: Extract<Expr, { t: 'block' }>,
    readonly scope: Scope,
  ) {}
}

export type PsObject = Record<string, unknown>;

export function commandNotFound(name: string): PsError {
  return new PsError(
    `The term '${name}' is not recognized as the name of a cmdlet, function, script file, or operable program. ` +
      'Check the spelling of the name, or if a path was included, verify that the path is correct and try again.',
    `ObjectNotFound: (${name}:String) [], CommandNotFoundException`,
    'CommandNotFoundException',
    name,
  );
}

export function parameterNotFound(command: string, parameter: string): PsError {
  return new PsError(
    `A parameter cannot be found that matches parameter name '${parameter}'.`,
    `InvalidArgument: (:) [${command}], ParameterBindingException`,
    `NamedParameterNotFound,${command}`,
    command,
  );
}
