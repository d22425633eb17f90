/** Go path/filepath on Unix (Join, Clean): how the reference builds the token file path. */

/** path.Clean for slash-separated paths (filepath.Clean on Unix). */
export function goClean(path: string): string {
  if (path === '') return '.';
  const rooted = path[0] === '/';
  const parts = path.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(p);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** filepath.Join on Unix: empty elements are ignored, the result is Cleaned, all-empty gives "". */
export function goFilepathJoin(...elems: string[]): string {
  for (let i = 0; i < elems.length; i++) {
    if (elems[i] !== '') return goClean(elems.slice(i).join('/'));
  }
  return '';
}
