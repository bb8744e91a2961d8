import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.js';
import { ENTITY_KIND_NAMES } from '../../domain/entity-kinds.js';
import {
  BUILT_IN_KIND_LISTS,
  canonicalOrder,
  isFullPull,
  kindListNames,
  parseCustomKindList,
  resolveKinds,
  sourcesOf,
  type KindList,
} from '../../domain/kind-lists.js';

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const custom: KindList[] = [{ name: 'nightly-voice', kinds: ['teams_users', 'phone_numbers'] }];

describe('built-in lists', () => {
  it('ship licensing, voice, exchange and full with known kinds only', () => {
    expect(BUILT_IN_KIND_LISTS.licensing).toEqual(['users', 'licences']);
    expect(BUILT_IN_KIND_LISTS.exchange).toEqual(['mailboxes', 'distribution_groups']);
    expect(BUILT_IN_KIND_LISTS.voice).toHaveLength(10);
    expect(BUILT_IN_KIND_LISTS.full).toEqual(ENTITY_KIND_NAMES);
    for (const kinds of Object.values(BUILT_IN_KIND_LISTS)) {
      for (const k of kinds) expect(ENTITY_KIND_NAMES).toContain(k);
    }
  });

  it('voice covers every Teams kind', () => {
    expect(sourcesOf(BUILT_IN_KIND_LISTS.voice)).toEqual(['teams']);
    expect(resolveKinds('voice')).toEqual(ENTITY_KIND_NAMES.filter((k) => sourcesOf([k])[0] === 'teams'));
  });
});

describe('resolveKinds', () => {
  it('resolves a list name', () => {
    expect(resolveKinds('licensing')).toEqual(['users', 'licences']);
    expect(resolveKinds('full')).toEqual(ENTITY_KIND_NAMES);
  });

  it('resolves kinds and lists mixed, in canonical order, without duplicates', () => {
    expect(resolveKinds('licences,users')).toEqual(['users', 'licences']);
    expect(resolveKinds('mailboxes, licensing')).toEqual(['users', 'licences', 'mailboxes']);
    expect(resolveKinds('users,licensing,users')).toEqual(['users', 'licences']);
    expect(resolveKinds(['exchange', 'groups'])).toEqual(['groups', 'mailboxes', 'distribution_groups']);
    expect(resolveKinds(['users,licences', 'teams'])).toEqual(['users', 'teams', 'licences']);
    expect(resolveKinds('Users  LICENCES,')).toEqual(['users', 'licences']);
  });

  it('resolves an operator-defined list', () => {
    expect(resolveKinds('nightly-voice,users', custom)).toEqual(['users', 'teams_users', 'phone_numbers']);
  });

  it('does not let a custom list shadow a built-in one', () => {
    const sneaky: KindList[] = [{ name: 'licensing', kinds: ['mailboxes'] }];
    expect(resolveKinds('licensing', sneaky)).toEqual(['users', 'licences']);
  });

  it('names every unknown word and lists what is valid', () => {
    const error = errorOf(() => resolveKinds('users,licenses,voip,licenses', custom));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.problems).toHaveLength(1);
    const { field, message } = error.problems[0]!;
    expect(field).toBe('kinds');
    expect(message).toMatch(/^has unknown words "licenses", "voip": use kinds \(users, groups,/);
    expect(message).toContain('lists (licensing, voice, exchange, full, nightly-voice)');
  });

  it('says so when one word is unknown', () => {
    expect(errorOf(() => resolveKinds('mailbox')).problems[0]!.message).toMatch(
      /^has an unknown word "mailbox"/,
    );
  });

  it('refuses an empty spec', () => {
    expect(errorOf(() => resolveKinds(' , ')).problems[0]!.message).toMatch(/must name at least one kind/);
    expect(errorOf(() => resolveKinds([])).problems[0]!.field).toBe('kinds');
  });
});

describe('parseCustomKindList', () => {
  it('accepts and normalises a list', () => {
    expect(
      parseCustomKindList({
        name: ' Hourly ',
        kinds: ['licences', 'Users', 'users'],
        description: 'every hour',
      }),
    ).toEqual({ name: 'hourly', kinds: ['users', 'licences'], description: 'every hour' });
  });

  it('refuses a name that shadows a built-in list or a kind, or has bad characters', () => {
    const problem = (name: string) => errorOf(() => parseCustomKindList({ name, kinds: ['users'] })).problems;
    expect(problem('voice')).toEqual([
      {
        field: 'name',
        message: 'must not be the name of a built-in list (licensing, voice, exchange, full)',
      },
    ]);
    expect(problem('mailboxes')).toEqual([{ field: 'name', message: 'must not be the name of a kind' }]);
    expect(problem('my list')[0]!.message).toMatch(/must start with a letter/);
    expect(problem('1st')[0]!.field).toBe('name');
  });

  it('refuses unknown kinds, naming them', () => {
    expect(errorOf(() => parseCustomKindList({ name: 'x', kinds: ['users', 'lisences'] })).problems).toEqual([
      {
        field: 'kinds',
        message: expect.stringMatching(/^has unknown kind\(s\) "lisences" \(kinds: users, /),
      },
    ]);
    expect(errorOf(() => parseCustomKindList({ name: 'x', kinds: [] })).problems).toEqual([
      { field: 'kinds', message: 'must name at least one kind' },
    ]);
    expect(
      errorOf(() => parseCustomKindList({ name: 'x', kinds: ['users'], extra: 1 })).problems[0]!.field,
    ).toBe('(kind list)');
  });
});

describe('sourcesOf, canonicalOrder, isFullPull, kindListNames', () => {
  it('gives the sources in graph, teams, exchange order', () => {
    expect(sourcesOf(['mailboxes', 'users', 'dial_plans'])).toEqual(['graph', 'teams', 'exchange']);
    expect(sourcesOf(['licences'])).toEqual(['graph']);
    expect(sourcesOf([])).toEqual([]);
    expect(sourcesOf(['nonsense'])).toEqual([]);
  });

  it('orders kinds canonically', () => {
    expect(canonicalOrder(['mailboxes', 'users', 'mailboxes'])).toEqual(['users', 'mailboxes']);
  });

  it('knows a full pull', () => {
    expect(isFullPull(resolveKinds('licensing,voice,exchange,groups,teams'))).toBe(true);
    expect(isFullPull(resolveKinds('licensing,voice,exchange,groups'))).toBe(false);
  });

  it('lists built-in then custom list names', () => {
    expect(kindListNames(custom)).toEqual(['licensing', 'voice', 'exchange', 'full', 'nightly-voice']);
  });
});
