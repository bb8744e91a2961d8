/**
 * The console's one template helper: `html` is a tagged template whose every interpolated value is
 * escaped for HTML text and quoted attributes, unless it is itself `html` (a fragment built the same
 * way) or an array of those. No engine, no helper that writes raw text: a value cannot become markup.
 * `table` is the console's one table markup, built with `html` like every page.
 */
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Markup built by `html` (safe to put into more markup as it is). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out);
}

/** A table's column: its heading, and whether it holds numbers (right-aligned: class `num`). */
export type Column = string | { heading: string; numeric: true };

/** A column of numbers. */
export const numeric = (heading: string): Column => ({ heading, numeric: true });

/** A table's row: its cells in the columns' order, and attributes of its `<tr>` (`data-…` for tests). */
export type Row = readonly HtmlValue[] | { cells: readonly HtmlValue[]; attributes: Html };

/**
 * A table of the console: in a box that scrolls sideways on a narrow screen (the page itself does
 * not), headed by its columns, a number column's cells right-aligned. `section` (data-section) names
 * the table for the tests and scripts that look for it.
 */
export function table(spec: { section?: string; columns: readonly Column[]; rows: readonly Row[] }): Html {
  const numbers = spec.columns.map((c) => typeof c !== 'string');
  const num = (i: number) => (numbers[i] ? html` class="num"` : '');
  return html`<div class="table-wrap">
    <table${spec.section ? html` data-section="${spec.section}"` : ''}>
      <thead>
        <tr>
          ${spec.columns.map(
            (c, i) => html`<th scope="col" ${num(i)}>${typeof c === 'string' ? c : c.heading}</th>`,
          )}
        </tr>
      </thead>
      <tbody>
        ${spec.rows.map((row) => {
          const { cells, attributes } = 'cells' in row ? row : { cells: row, attributes: undefined };
          return html`<tr${attributes ? html` ${attributes}` : ''}>
            ${cells.map((cell, i) => html`<td${num(i)}>${cell}</td>`)}
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}
