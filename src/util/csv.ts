/**
 * The first record of CSV text as Go's `encoding/csv` Reader reads it with its defaults, the syntax of Docker's
 * `--mount` and `--network` values and of a Dockerfile's `RUN --mount` (each reads one record with `Read()`).
 * `,` separates fields; a field that starts with `"` is quoted (`""` is a quote inside it, and it may span lines);
 * a `"` elsewhere is an error. Empty lines before the record are skipped, `\r\n` is read as `\n`, and whatever
 * follows the record's line is ignored. Pure; a malformed record is a RangeError with Go's message and 1-based byte
 * column (`parse error on line 1, column 3: bare " in non-quoted-field`), and text with no record is one with
 * `EOF`, Go's io.EOF, for the caller to wrap.
 */

const BARE_QUOTE = 'bare " in non-quoted-field';
const QUOTE = 'extraneous or missing " in quoted-field';

export function csvRecord(text: string): string[] {
  let rest = text;
  let lineNo = 0;
  /** Go's readLine: one line with its `\n`, `\r\n` made `\n`, a `\r` at the very end dropped; undefined at EOF. */
  const readLine = (): string | undefined => {
    if (rest === '') return undefined;
    const nl = rest.indexOf('\n');
    let line = nl < 0 ? rest : rest.slice(0, nl + 1);
    rest = nl < 0 ? '' : rest.slice(nl + 1);
    lineNo++;
    if (nl < 0 && line.endsWith('\r')) line = line.slice(0, -1);
    if (line.endsWith('\r\n')) line = `${line.slice(0, -2)}\n`;
    return line;
  };
  let line: string | undefined;
  do line = readLine();
  while (line === '' || line === '\n');
  if (line === undefined) throw new RangeError('EOF');
  const startLine = lineNo;
  const fail = (at: number, column: number, what: string): never => {
    const where = at === startLine ? '' : `record on line ${startLine}; `;
    throw new RangeError(`${where}parse error on line ${at}, column ${column}: ${what}`);
  };
  const bytes = (s: string) => Buffer.byteLength(s);
  const fields: string[] = [];
  let col = 1;
  for (;;) {
    if (line[0] !== '"') {
      const comma = line.indexOf(',');
      const field = comma >= 0 ? line.slice(0, comma) : line.replace(/\n$/, '');
      const quote = field.indexOf('"');
      if (quote >= 0) fail(lineNo, col + bytes(field.slice(0, quote)), BARE_QUOTE);
      fields.push(field);
      if (comma < 0) return fields;
      line = line.slice(comma + 1);
      col += bytes(field) + 1;
      continue;
    }
    line = line.slice(1);
    col += 1;
    let at = lineNo;
    let field = '';
    for (;;) {
      const quote = line.indexOf('"');
      if (quote >= 0) {
        field += line.slice(0, quote);
        col += bytes(line.slice(0, quote)) + 1;
        line = line.slice(quote + 1);
        if (line[0] === '"') {
          field += '"';
          line = line.slice(1);
          col += 1;
        } else if (line[0] === ',') {
          line = line.slice(1);
          col += 1;
          break;
        } else if (line === '' || line === '\n') {
          fields.push(field);
          return fields;
        } else {
          fail(lineNo, col - 1, QUOTE);
        }
      } else if (line !== '') {
        // the quoted field goes on past the end of the line
        field += line;
        col += bytes(line);
        line = readLine() ?? '';
        if (line !== '') {
          at++;
          col = 1;
        }
      } else {
        fail(at, col, QUOTE);
      }
    }
    fields.push(field);
  }
}
