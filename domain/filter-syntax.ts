/**
 * What the two filter checkers (domain/odata-filter.ts for Graph, domain/powershell-filter.ts for
 * Teams and Exchange) share: the syntax error their parsers throw, and how its place is told to the
 * operator who wrote the filter.
 */

/** A filter that does not parse, at `pos` (0-based) or at its end. */
export class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number | 'end',
  ) {
    super(message);
  }
}

/** Where in `filter` a syntax error is, in words: its position (1-based) and the text there. */
export function positionText(filter: string, pos: number | 'end'): string {
  if (pos === 'end') return 'at the end of the filter';
  const near = filter.slice(pos, pos + 20);
  return `at position ${pos + 1} (near "${near}${filter.length > pos + 20 ? '…' : ''}")`;
}
