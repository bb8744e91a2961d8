/**
 * The JSON Lines contract between a generated script and the engine (ARCHITECTURE.md): one compact
 * JSON object per line on stdout, tagged with its entity kind.
 *
 *   {"t":"obj","kind":"dial_plans","o":{...}}          one object of a kind
 *   {"t":"end","kind":"dial_plans","count":5}          the kind completed, with how many objects
 *   {"t":"err","kind":"call_queues","count":40,"message":"..."}   the kind failed after `count` objects
 *   {"t":"done"}                                        the script reached its last line
 *
 * A kind is complete only with its `end` line: the engine sweeps a kind's stale objects only then.
 * A kind with an `err` line, or with neither line (the script died), sweeps nothing.
 */
import { z } from 'zod';
import { ENTITY_KIND_NAMES, kindsOfSource, type EntityKindName } from '../../domain/entity-kinds.js';

export const TEAMS_KINDS = kindsOfSource('teams').map((k) => k.kind) as EntityKindName[];
export const EXCHANGE_KINDS = kindsOfSource('exchange').map((k) => k.kind) as EntityKindName[];
export type TeamsKind = (typeof TEAMS_KINDS)[number];

const kind = z.enum(ENTITY_KIND_NAMES as [EntityKindName, ...EntityKindName[]]);

export const objectRecord = z.object({
  t: z.literal('obj'),
  kind,
  o: z.record(z.string(), z.unknown()),
});
export const endRecord = z.object({ t: z.literal('end'), kind, count: z.number().int().nonnegative() });
export const errorRecord = z.object({
  t: z.literal('err'),
  kind,
  count: z.number().int().nonnegative().optional(),
  message: z.string(),
});
export const doneRecord = z.object({ t: z.literal('done') });

export const scriptLine = z.discriminatedUnion('t', [objectRecord, endRecord, errorRecord, doneRecord]);

export type ObjectRecord = z.infer<typeof objectRecord>;
export type EndRecord = z.infer<typeof endRecord>;
export type ErrorRecord = z.infer<typeof errorRecord>;
export type DoneRecord = z.infer<typeof doneRecord>;
/**
 * A stdout line that is not part of the contract (a module's banner, a stray Write-Host). Kept so
 * the caller can log that it happened; it never counts as data.
 */
export interface TextRecord {
  t: 'text';
  text: string;
}
export type ScriptRecord = ObjectRecord | EndRecord | ErrorRecord | DoneRecord | TextRecord;
