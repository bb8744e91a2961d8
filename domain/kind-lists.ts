/**
 * Kind lists: which kinds of object a sync touches (`m365sync sync <tenant> --kinds licensing`). Named
 * lists ship with the product; operators may define their own. A list name and kind names mix freely:
 * `licensing,mailboxes`. The result is always in the canonical order of ENTITY_KINDS, without
 * duplicates, so two specs that mean the same kinds give the same job, run record and schedule.
 */
import { z } from 'zod';
import { ValidationError, type FieldProblem } from './errors.js';
import { ENTITY_KIND_NAMES, ENTITY_KINDS, type EntityKindName, type EntitySource } from './entity-kinds.js';

export const BUILT_IN_KIND_LISTS = {
  /** Who holds which licence: the Graph users (with their licence view) and the subscribed SKUs. */
  licensing: ['users', 'licences'],
  /** Teams voice configuration and who uses it. */
  voice: [
    'teams_users',
    'dial_plans',
    'policies',
    'voice_routes',
    'pstn_usages',
    'pstn_gateways',
    'phone_numbers',
    'call_queues',
    'auto_attendants',
    'resource_accounts',
  ],
  exchange: ['mailboxes', 'distribution_groups'],
  full: ENTITY_KIND_NAMES,
} as const satisfies Record<string, readonly EntityKindName[]>;

export type BuiltInKindListName = keyof typeof BUILT_IN_KIND_LISTS;
export const BUILT_IN_KIND_LIST_NAMES = Object.keys(BUILT_IN_KIND_LISTS) as BuiltInKindListName[];

export interface KindList {
  name: string;
  kinds: EntityKindName[];
  description?: string;
}

export const KIND_LIST_NAME = /^[a-z][a-z0-9_-]{0,39}$/;

const knownKind = (k: string): k is EntityKindName => (ENTITY_KIND_NAMES as readonly string[]).includes(k);

/** An operator-defined list, checked when saved (API body, CLI). */
export const CustomKindListSchema = z
  .object({
    name: z
      .string({ error: 'must be text' })
      .trim()
      .toLowerCase()
      .regex(KIND_LIST_NAME, {
        error: 'must start with a letter and have up to 40 lower-case letters, digits, "-" or "_"',
      })
      .refine((n) => !(BUILT_IN_KIND_LIST_NAMES as string[]).includes(n), {
        error: `must not be the name of a built-in list (${BUILT_IN_KIND_LIST_NAMES.join(', ')})`,
      })
      .refine((n) => !knownKind(n), { error: 'must not be the name of a kind' }),
    kinds: z
      .array(z.string({ error: 'must be a kind name' }).trim().toLowerCase(), {
        error: 'must be a list of kinds',
      })
      .min(1, { error: 'must name at least one kind' })
      .superRefine((kinds, ctx) => {
        const unknown = kinds.filter((k) => !knownKind(k));
        if (unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `has unknown kind(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')} (kinds: ${ENTITY_KIND_NAMES.join(', ')})`,
          });
        }
      })
      .transform((kinds) => canonicalOrder(kinds as EntityKindName[])),
    description: z.string().trim().max(200, { error: 'must be at most 200 characters' }).optional(),
  })
  .strict();

/** Checks one operator-defined list; every problem is named by field. */
export function parseCustomKindList(input: unknown): KindList {
  const parsed = CustomKindListSchema.safeParse(input);
  if (!parsed.success) {
    const problems: FieldProblem[] = parsed.error.issues.map((i) => ({
      field: i.path.join('.') || '(kind list)',
      message: i.message,
    }));
    throw new ValidationError('Kind list', problems);
  }
  const out: KindList = { name: parsed.data.name, kinds: parsed.data.kinds };
  if (parsed.data.description !== undefined) out.description = parsed.data.description;
  return out;
}

/** `kinds` without duplicates, in the order of ENTITY_KINDS. */
export function canonicalOrder(kinds: Iterable<EntityKindName>): EntityKindName[] {
  const wanted = new Set(kinds);
  return ENTITY_KIND_NAMES.filter((k) => wanted.has(k));
}

/** Every list an operator can name: the built-in ones, then theirs. */
export function kindListNames(customLists: readonly KindList[] = []): string[] {
  return [...BUILT_IN_KIND_LIST_NAMES, ...customLists.map((l) => l.name)];
}

/**
 * The kinds a spec names. `spec` is a list name, a kind, or several of either separated by commas
 * (or spaces): `licensing`, `users,licences`, `licensing, mailboxes`; an array is taken word by word
 * the same way. Case does not matter. Every unknown word is named in one error, with what is valid.
 */
export function resolveKinds(
  spec: string | readonly string[],
  customLists: readonly KindList[] = [],
): EntityKindName[] {
  const words = (typeof spec === 'string' ? [spec] : spec)
    .flatMap((part) => part.split(/[\s,]+/))
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w !== '');
  if (words.length === 0) {
    throw new ValidationError('Kinds', [
      {
        field: 'kinds',
        message: `must name at least one kind or list (lists: ${kindListNames(customLists).join(', ')})`,
      },
    ]);
  }
  const lists = new Map<string, readonly EntityKindName[]>(Object.entries(BUILT_IN_KIND_LISTS));
  // A custom list cannot shadow a built-in one (the schema refuses it); ignore one that slipped in.
  for (const list of customLists) if (!lists.has(list.name)) lists.set(list.name, list.kinds);

  const kinds: EntityKindName[] = [];
  const unknown: string[] = [];
  for (const word of words) {
    if (knownKind(word)) kinds.push(word);
    else if (lists.has(word)) kinds.push(...lists.get(word)!);
    else if (!unknown.includes(word)) unknown.push(word);
  }
  if (unknown.length > 0) {
    throw new ValidationError('Kinds', [
      {
        field: 'kinds',
        message: `${unknown.length === 1 ? 'has an unknown word' : 'has unknown words'} ${unknown
          .map((w) => JSON.stringify(w))
          .join(
            ', ',
          )}: use kinds (${ENTITY_KIND_NAMES.join(', ')}) or lists (${[...lists.keys()].join(', ')})`,
      },
    ]);
  }
  return canonicalOrder(kinds);
}

/** The sources the kinds come from, in the order graph, teams, exchange. */
export function sourcesOf(kinds: Iterable<string>): EntitySource[] {
  const wanted = new Set(kinds);
  const sources = new Set(ENTITY_KINDS.filter((k) => wanted.has(k.kind)).map((k) => k.source));
  return (['graph', 'teams', 'exchange'] as const).filter((s) => sources.has(s));
}

/** True when the kinds are every kind there is (a full pull). */
export function isFullPull(kinds: Iterable<string>): boolean {
  const wanted = new Set(kinds);
  return ENTITY_KIND_NAMES.every((k) => wanted.has(k));
}
