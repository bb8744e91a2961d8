import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../../domain/errors.js';
import type { TenantInput } from '../../domain/tenant.js';

/** Reads a JSON or YAML file (YAML is a superset of JSON, so one parser serves both). */
export async function readStructuredFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`File ${path}`, [
      { field: 'file', message: `cannot be read (${(error as NodeJS.ErrnoException).code})` },
    ]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ValidationError(`File ${path}`, [
      { field: 'file', message: `is not JSON or YAML: ${(error as Error).message.split('\n')[0]}` },
    ]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError(`File ${path}`, [
      { field: 'file', message: 'must hold one object of groups and fields' },
    ]);
  }
  return parsed as Record<string, unknown>;
}

/**
 * `--set "Microsoft 365.client_id=…"` flags onto a tenant input. Group names have no dots, so the
 * first dot splits group from field; an empty value (`--set "Tenant.description="`) clears the field.
 */
export function applySetFlags(input: TenantInput, flags: string[]): TenantInput {
  const problems = [];
  const out = structuredClone(input) as Record<string, Record<string, unknown> | unknown>;
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const path = eq < 0 ? flag : flag.slice(0, eq);
    const dot = path.indexOf('.');
    if (eq < 0 || dot < 1) {
      problems.push({
        field: path,
        message: 'a --set flag is "Group.field=value", e.g. --set "Microsoft 365.client_id=…"',
      });
      continue;
    }
    const group = path.slice(0, dot);
    const value = flag.slice(eq + 1);
    const target = (out[group] ??= {}) as Record<string, unknown>;
    target[path.slice(dot + 1)] = value === '' ? null : value;
  }
  if (problems.length > 0) throw new ValidationError('Flags', problems);
  return out as TenantInput;
}
