/** Where a finding's JSON path is in the file it came from (JSON or YAML), for editors and code scanning. */
import { LineCounter, parseDocument } from 'yaml';

/** `$.a[0]["b:c"] → …` → ['a', 0, 'b:c'] (the part after → is inside a JSON-text document). */
export function pathSegments(path: string): Array<string | number> {
  const outer = path.split(' → ')[0]!;
  const out: Array<string | number> = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(outer))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- the regex matched a JSON string literal
    else out.push(JSON.parse(m[3]!) as string);
  }
  return out;
}

/** Line and column (1-based) of a JSON path in the source text; the nearest existing ancestor otherwise. */
export function locator(text: string): (path: string) => { line: number; column: number } | undefined {
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument> | undefined;
  try {
    doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false, uniqueKeys: false });
  } catch {
    doc = undefined;
  }
  return (path) => {
    if (!doc) return undefined;
    const segs = pathSegments(path);
    for (let n = segs.length; n >= 0; n--) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- a yaml Node (keepScalar); range is checked next
      const node = doc.getIn(segs.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && Array.isArray(node.range)) {
        const pos = lc.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
}
