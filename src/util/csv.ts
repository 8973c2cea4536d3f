/**
 * One record of CSV as Go's encoding/csv reads it, the syntax of Docker's `--mount` values and of a Dockerfile's
 * `RUN --mount`: `,` separates fields, `"…"` quotes a field (`""` is a quote inside it). Pure; a malformed line is a
 * RangeError with Go's message (`parse error on line 1, column N: …`), for the caller to wrap.
 */
export function csvRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length)
          throw new RangeError(
            `parse error on line 1, column ${line.length + 1}: extraneous or missing " in quoted-field`,
          );
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i];
        i++;
      }
      if (i < line.length && line[i] !== ',')
        throw new RangeError(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const end = line.indexOf(',', i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      const quote = field.indexOf('"');
      if (quote >= 0)
        throw new RangeError(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      i = end < 0 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) break;
    i++; // the comma
  }
  return fields;
}
