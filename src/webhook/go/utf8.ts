/**
 * Bytes to text the way Go's encoding/json reads a string: each byte that does not start a valid UTF-8 sequence
 * becomes one U+FFFD (utf8.DecodeRune returns RuneError with width 1). Node's decoder follows the WHATWG rule
 * instead, one U+FFFD per maximal invalid subsequence: `F0 9F 98` followed by `"` is one U+FFFD there and
 * three in Go.
 */

/** Length of the valid UTF-8 sequence starting at `i` (Go's utf8.DecodeRune rules), 0 when it is invalid. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // E0: no overlong forms; ED: no surrogates
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // F0: no overlong forms; F4: nothing above U+10FFFF
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Decode with one U+FFFD per invalid byte, as Go does. */
export function goDecodeUtf8(buf: Buffer): string {
  const text = buf.toString('utf8');
  // Valid input decodes the same both ways; U+FFFD only appears when a replacement was made (or was in the input).
  if (!text.includes('\uFFFD')) return text;
  let out = '';
  let runStart = 0;
  let i = 0;
  while (i < buf.length) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', runStart, i) + '\uFFFD';
    i++;
    runStart = i;
  }
  return out + buf.toString('utf8', runStart, buf.length);
}
