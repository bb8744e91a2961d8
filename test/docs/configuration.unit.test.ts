/**
 * The README's Configuration table is the list of every variable: checked against the one settings
 * schema (domain/settings.ts), so a variable added without a row, or a row left for a variable that
 * went, fails here; so does a documented default the schema does not have.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, SETTING_NAMES, parseSettings, type SettingName } from '../../domain/settings.js';
import { ValidationError } from '../../domain/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the first table under "## Configuration": variable → default cell. */
function documentedVariables(text: string): Map<string, string> {
  const section = text.slice(text.indexOf('\n## Configuration'));
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('| variable'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [name, defaultCell] = line
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim());
    const variable = /^`([A-Za-z0-9_]+)`$/.exec(name ?? '')?.[1];
    if (!variable) throw new Error(`a row that does not name one variable: ${line}`);
    rows.set(variable, defaultCell ?? '');
  }
  return rows;
}

describe('the README configuration table', () => {
  const documented = documentedVariables(readme);

  it('documents every variable of the settings schema, and no other', () => {
    const known = new Set<string>(SETTING_NAMES);
    expect(
      [...known].filter((name) => !documented.has(name)),
      'undocumented',
    ).toEqual([]);
    expect(
      [...documented.keys()].filter((name) => !known.has(name)),
      'documented but unknown',
    ).toEqual([]);
  });

  it("gives each variable's default as the schema has it", () => {
    const wrong: string[] = [];
    for (const name of SETTING_NAMES) {
      const value = (DEFAULT_SETTINGS as Record<SettingName, unknown>)[name];
      if (value === undefined) continue;
      const expected = `\`${String(value)}\``;
      if (documented.get(name) !== expected)
        wrong.push(`${name}: ${documented.get(name)} (schema ${expected})`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('parseSettings', () => {
  it('names every wrong variable in one error, echoing values except secrets', () => {
    let error: unknown;
    try {
      parseSettings({
        SYNC_ATTEMPTS: 'three',
        REDIS_URL: 'http://user:hunter2@cache',
        SCHEDULE_TZ: 'Mars/Olympus',
        LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const { problems, message } = error as ValidationError;
    expect(problems.map((p) => p.field).sort()).toEqual([
      'LOG_LEVEL',
      'REDIS_URL',
      'SCHEDULE_TZ',
      'SYNC_ATTEMPTS',
    ]);
    expect(message).toContain('(not "three")');
    expect(message).toContain('Mars/Olympus');
    expect(message).not.toContain('hunter2');
  });

  it('ignores variables it does not know, and reads blank thresholds as unset', () => {
    const settings = parseSettings({
      PATH: '/usr/bin',
      DELETE_THRESHOLD_TEAMS: ' ',
      M365SYNC_API_RATE_LIMIT: '',
    });
    expect(settings.DELETE_THRESHOLD_TEAMS).toBeUndefined();
    expect(settings.M365SYNC_API_RATE_LIMIT).toBeUndefined();
    expect('PATH' in settings).toBe(false);
  });
});
