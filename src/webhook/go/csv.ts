/** Go encoding/csv, the first record only: how the reference reads the skip-containers annotation. */

/** Split into lines the way encoding/csv's readLine does: keep "\n", turn "\r\n" into "\n", drop a final "\r". */
function csvLines(input: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < input.length) {
    const nl = input.indexOf('\n', start);
    let line = nl === -1 ? input.slice(start) : input.slice(start, nl + 1);
    start = nl === -1 ? input.length : nl + 1;
    if (nl === -1 && line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length >= 2 && line.endsWith('\r\n')) line = line.slice(0, -2) + '\n';
    lines.push(line);
  }
  return lines;
}

const lengthNL = (s: string): number => (s.endsWith('\n') ? 1 : 0);

/**
 * encoding/csv `Reader.Read()` with the default settings (comma ',', no comments, LazyQuotes and
 * TrimLeadingSpace off): the first record, or undefined where Go returns an error (EOF on empty input,
 * ErrBareQuote, ErrQuote).
 */
export function goCsvFirstRecord(input: string): string[] | undefined {
  const lines = csvLines(input);
  let li = 0;
  let line: string | undefined;
  // skip empty lines
  while (li < lines.length) {
    const l = lines[li++] as string;
    if (l.length === lengthNL(l)) continue;
    line = l;
    break;
  }
  if (line === undefined) return undefined; // io.EOF
  const fields: string[] = [];
  for (;;) {
    if (line.length === 0 || line[0] !== '"') {
      const i = line.indexOf(',');
      const field = i >= 0 ? line.slice(0, i) : line.slice(0, line.length - lengthNL(line));
      if (field.includes('"')) return undefined; // ErrBareQuote
      fields.push(field);
      if (i >= 0) {
        line = line.slice(i + 1);
        continue;
      }
      return fields;
    }
    // quoted field
    line = line.slice(1);
    let buf = '';
    for (;;) {
      const i: number = line.indexOf('"');
      if (i >= 0) {
        buf += line.slice(0, i);
        line = line.slice(i + 1);
        if (line[0] === '"') {
          buf += '"';
          line = line.slice(1);
        } else if (line[0] === ',') {
          line = line.slice(1);
          fields.push(buf);
          break;
        } else if (lengthNL(line) === line.length) {
          fields.push(buf);
          return fields;
        } else return undefined; // ErrQuote: extraneous " in field
      } else if (line.length > 0) {
        buf += line;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- `line` is inferred from it
        line = li < lines.length ? (lines[li++] as string) : '';
      } else return undefined; // ErrQuote: unterminated quoted field
    }
  }
}
