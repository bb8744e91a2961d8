/**
 * Checks docs/RELIABILITY.md against what the fault suite recorded (.data/fault-results/*.jsonl, one
 * line per case: see test/faults/support/outcomes.ts): every case recorded must have a row in the
 * table whose first cell is the case id in backquotes and whose "times" cell is the number of times the
 * case applied its fault. Exits 1 naming each case without a matching row. Generic on purpose: any
 * file under test/faults/ that records its cases is held to the same rule.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = `${root}.data/fault-results/`;
const docPath = `${root}docs/RELIABILITY.md`;

interface Recorded {
  id: string;
  times: number;
  file: string;
}

export function recordedCases(dir = resultsDir): Recorded[] {
  if (!existsSync(dir)) return [];
  const byId = new Map<string, Recorded>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of readFileSync(dir + name, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const c = JSON.parse(line) as Recorded;
      byId.set(c.id, c);
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Rows of the document's tables: first cell `id` → the cells. */
export function documentRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match)
      rows.set(
        match[1]!,
        match[2]!.split('|').map((c) => c.trim()),
      );
  }
  return rows;
}

/** Problems: a case without a row, or a row whose "times" (the column after the id) differs. */
export function checkDocument(cases: Recorded[], markdown: string): string[] {
  const rows = documentRows(markdown);
  const problems: string[] = [];
  for (const c of cases) {
    const row = rows.get(c.id);
    if (!row) problems.push(`${c.id} (${c.file}) has no row in docs/RELIABILITY.md`);
    else if (Number(row[0]) !== c.times)
      problems.push(`${c.id}: the document says ${row[0]} time(s), the suite applied the fault ${c.times}`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cases = recordedCases();
  const problems = checkDocument(cases, readFileSync(docPath, 'utf8'));
  if (problems.length > 0) {
    console.error(`docs/RELIABILITY.md does not match the fault suite:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`docs/RELIABILITY.md lists all ${cases.length} fault case(s) the suite recorded.`);
}
