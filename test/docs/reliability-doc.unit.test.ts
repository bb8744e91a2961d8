import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkDocument, documentRows } from '../../scripts/check-reliability.js';

const doc = readFileSync(new URL('../../docs/RELIABILITY.md', import.meta.url), 'utf8');

describe('the check of docs/RELIABILITY.md against the fault suite', () => {
  it('reads the rows of the document', () => {
    const rows = documentRows(doc);
    expect(rows.get('worker-sigkill-poison')?.[0]).toBe('3');
  });

  it('names a recorded case without a row, and a row with other times', () => {
    const problems = checkDocument(
      [
        { id: 'worker-sigkill-poison', times: 3, file: 'a' },
        { id: 'worker-sigkill-mid-graph', times: 2, file: 'a' },
        { id: 'some-new-case', times: 1, file: 'test/faults/new.test.ts' },
      ],
      doc,
    );
    expect(problems).toEqual([
      'worker-sigkill-mid-graph: the document says 1 time(s), the suite applied the fault 2',
      'some-new-case (test/faults/new.test.ts) has no row in docs/RELIABILITY.md',
    ]);
  });
});
