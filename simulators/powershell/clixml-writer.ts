/**
 * What powershell.exe writes on a redirected stderr: `#< CLIXML` and an `<Objs>` document. Errors are
 * `<S S="Error">` lines with CR LF escaped as `_x000D__x000A_`; progress is a serialized
 * ProgressRecord (shape as captured from real hosts, e.g. "Preparing modules for first use.").
 */

const OBJS_OPEN = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">';

// Characters XML 1.0 cannot carry: C0 controls (CR and LF included, as PowerShell escapes them) and U+FFFE/F.
function escapeNonXml(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    out +=
      code < 0x20 || code === 0xfffe || code === 0xffff
        ? `_x${code.toString(16).toUpperCase().padStart(4, '0')}_`
        : c;
  }
  return out;
}

/** XML-escapes text and `_xHHHH_`-escapes what XML cannot carry (control characters, `_x` itself). */
export function encodeClixmlString(text: string): string {
  return escapeNonXml(
    text
      .replace(/_x([0-9A-Fa-f]{4})_/g, '_x005F_x$1_')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;'),
  );
}

export interface ErrorRecordText {
  /** e.g. `Connect-MicrosoftTeams : AADSTS50126: ...` */
  message: string;
  line: number;
  column?: number;
  /** The statement as it stands in the script. */
  statement: string;
  category: string;
  errorId: string;
}

/** The lines PowerShell's console host prints for an uncaught error record. */
export function errorRecordLines(e: ErrorRecordText): string[] {
  const firstLine = e.statement.split(/\r?\n/)[0]!;
  const col = e.column ?? 1;
  return [
    e.message,
    `At line:${e.line} char:${col}`,
    `+ ${firstLine}`,
    `+ ${' '.repeat(col - 1)}${'~'.repeat(Math.max(1, Math.min(firstLine.length - col + 1, 60)))}`,
    `    + CategoryInfo          : ${e.category}`,
    `    + FullyQualifiedErrorId : ${e.errorId}`,
    ' ',
  ];
}

export function clixmlErrorDocument(records: ErrorRecordText[]): string {
  const strings = records
    .flatMap(errorRecordLines)
    .map((line) => `<S S="Error">${encodeClixmlString(`${line}\r\n`)}</S>`)
    .join('');
  return `#< CLIXML\r\n${OBJS_OPEN}${strings}</Objs>`;
}

export function clixmlWarningDocument(messages: string[]): string {
  const strings = messages.map((m) => `<S S="warning">${encodeClixmlString(m)}</S>`).join('');
  return `#< CLIXML\r\n${OBJS_OPEN}${strings}</Objs>`;
}

export function clixmlProgressDocument(activity = 'Preparing modules for first use.', count = 1): string {
  const records = Array.from({ length: count }, (_, i) => {
    const tn =
      i === 0
        ? '<TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>'
        : '<TNRef RefId="0" />';
    return (
      `<Obj S="progress" RefId="${i}">${tn}<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>${encodeClixmlString(activity)}</AV>` +
      '<AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>'
    );
  }).join('');
  return `#< CLIXML\r\n${OBJS_OPEN}${records}</Objs>`;
}
