/**
 * Who asked for something (`requestedBy` of a sync or a purge, `approvedBy` of held deletions,
 * `updatedBy` of a schedule): free text from an operator, a client or the environment, later printed
 * on operators' terminals (`runs list`). Control characters are refused where the name enters, so an
 * escape sequence can never be stored to redraw someone else's terminal.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

/** C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder what is shown. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

export const MAX_ACTOR_LENGTH = 200;

/** Why `name` is not acceptable as an actor, or undefined when it is. */
export function actorProblem(name: string): string | undefined {
  const trimmed = name.trim();
  if (trimmed === '') return 'must not be empty';
  if (trimmed.length > MAX_ACTOR_LENGTH) return `must be at most ${MAX_ACTOR_LENGTH} characters`;
  const at = trimmed.search(CONTROL);
  if (at >= 0) {
    const code = trimmed.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0');
    return `must not contain control characters (U+${code} at position ${at + 1})`;
  }
  return undefined;
}

/** `name`, trimmed, or a ValidationError naming `field` (where the name came from). */
export function checkedActor(name: string, field: string): string {
  const problem = actorProblem(name);
  if (problem) throw new ValidationError('The actor', [{ field, message: problem }]);
  return name.trim();
}

/** The zod schema of an actor name: trimmed, 1–200 characters, no control characters. */
export const ActorName = z
  .string({ error: 'must be text' })
  .trim()
  .superRefine((name, ctx) => {
    const problem = actorProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Text fit for a terminal: every control character written as a visible escape (`\x1B`, `\u202E`).
 * `keepLineBreaks` leaves `\n` (and `\t`) alone, for whole blocks of output; cells of a table escape
 * them too, so a value cannot forge a row.
 */
export function printable(text: string, { keepLineBreaks = false } = {}): string {
  return text.replace(CONTROL_ALL, (c) => {
    if (keepLineBreaks && (c === '\n' || c === '\t')) return c;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
      : `\\u${code.toString(16).toUpperCase()}`;
  });
}
