/**
 * Windows PowerShell 5.1's ConvertTo-Json writes what .NET's JavaScriptSerializer writes: a DateTime
 * becomes `"\/Date(1326441600000)\/"` (read by JSON.parse as `/Date(1326441600000)/`, sometimes with a
 * `+0100` offset), and an enum becomes its number, because 5.1 has no `-EnumsAsStrings`. PowerShell 7
 * writes ISO-8601 dates and, here too, numbers. The engine stores what a person would read, so
 * dates become ISO-8601 strings (UTC) and the enums we know become their names. Pure functions.
 */
import type { EntityKindName } from '../../domain/entity-kinds.js';

const MS_DATE = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/;

/** `/Date(1326441600000)/` → `2012-01-13T08:00:00.000Z`; anything else unchanged. */
export function normaliseDate(value: string): string {
  const match = MS_DATE.exec(value);
  if (!match) return value;
  // The milliseconds are UTC; the optional offset only says which zone the value was shown in.
  const date = new Date(Number(match[1]));
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

/** An enum type: names by value; `flags` enums combine bits (written `A, B` as .NET does). */
interface EnumType {
  names: Record<number, string>;
  flags?: boolean;
}

/**
 * Exchange's RecipientTypeDetails ([Flags], Microsoft.Exchange.Data.Directory.Recipient). Values as
 * the Exchange object model defines them.
 */
const RECIPIENT_TYPE_DETAILS: EnumType = {
  flags: true,
  names: {
    1: 'UserMailbox',
    2: 'LinkedMailbox',
    4: 'SharedMailbox',
    8: 'LegacyMailbox',
    16: 'RoomMailbox',
    32: 'EquipmentMailbox',
    64: 'MailContact',
    128: 'MailUser',
    256: 'MailUniversalDistributionGroup',
    512: 'MailNonUniversalGroup',
    1024: 'MailUniversalSecurityGroup',
    2048: 'DynamicDistributionGroup',
    4096: 'PublicFolder',
  },
};

/** Call queue routing method (Microsoft.Rtc.Management.Hosted.Online.Models.RoutingMethod), in declaration order. */
const ROUTING_METHOD: EnumType = {
  names: { 0: 'Attendant', 1: 'Serial', 2: 'RoundRobin', 3: 'LongestIdle' },
};

/**
 * The enum-typed top-level properties we know, per kind. A number we do not know stays a number (it
 * is still correct data, only less readable); add a property here when a real proxy shows one.
 */
export const KNOWN_ENUMS: Partial<Record<EntityKindName, Record<string, EnumType>>> = {
  call_queues: { RoutingMethod: ROUTING_METHOD },
  mailboxes: { RecipientTypeDetails: RECIPIENT_TYPE_DETAILS },
  distribution_groups: { RecipientTypeDetails: RECIPIENT_TYPE_DETAILS },
};

export function enumName(type: EnumType, value: number): string | number {
  const direct = type.names[value];
  if (direct !== undefined) return direct;
  if (!type.flags || !Number.isInteger(value) || value <= 0) return value;
  const parts: string[] = [];
  let rest = value;
  for (const [bit, name] of Object.entries(type.names)) {
    const b = Number(bit);
    if ((rest & b) === b && b !== 0) {
      parts.push(name);
      rest &= ~b;
    }
  }
  return rest === 0 ? parts.join(', ') : value;
}

/** Every `\/Date(ms)\/` string anywhere in a value, converted; arrays and objects copied. */
export function normaliseDates(value: unknown): unknown {
  if (typeof value === 'string') return normaliseDate(value);
  if (Array.isArray(value)) return value.map(normaliseDates);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normaliseDates(v);
    return out;
  }
  return value;
}

/** One object of a kind as the engine stores it: dates ISO-8601, known enums by name. */
export function normalisePsObject(kind: EntityKindName, o: Record<string, unknown>): Record<string, unknown> {
  return nameEnums(kind, normaliseDates(o) as Record<string, unknown>);
}

/**
 * `normalisePsObject` for an object fresh from JSON.parse that nothing else holds: its dates are
 * converted where they are, without a copy of every object and array in it (garbage for every object
 * of every run). An object with an own `__proto__` key inside (which the copy does not keep as a
 * key) is normalised by `normalisePsObject` instead: converting a date twice changes nothing, so
 * what was converted in place before meeting it makes no difference.
 */
export function normaliseParsed(kind: EntityKindName, o: Record<string, unknown>): Record<string, unknown> {
  if (Object.hasOwn(o, '__proto__') || !normaliseDatesInPlace(o)) return normalisePsObject(kind, o);
  return nameEnums(kind, o);
}

/** `normaliseDates` where the strings are; false (stopped) at an own `__proto__` key. */
function normaliseDatesInPlace(value: Record<string, unknown> | unknown[]): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'string') {
        const date = normaliseDate(v);
        if (date !== v) value[i] = date;
      } else if (typeof v === 'object' && v !== null && !normaliseDatesInPlace(v as Record<string, unknown>))
        return false;
    }
    return true;
  }
  for (const k of Object.keys(value)) {
    if (k === '__proto__') return false;
    const v = value[k];
    if (typeof v === 'string') {
      const date = normaliseDate(v);
      if (date !== v) value[k] = date;
    } else if (typeof v === 'object' && v !== null && !normaliseDatesInPlace(v as Record<string, unknown>))
      return false;
  }
  return true;
}

/** The known enums of the kind by name (in `out`, which is returned). */
function nameEnums(kind: EntityKindName, out: Record<string, unknown>): Record<string, unknown> {
  const enums = KNOWN_ENUMS[kind];
  if (enums) {
    for (const [property, type] of Object.entries(enums)) {
      const v = out[property];
      if (typeof v === 'number') out[property] = enumName(type, v);
      else if (Array.isArray(v))
        out[property] = v.map((x) => (typeof x === 'number' ? enumName(type, x) : x));
    }
  }
  return out;
}
