/**
 * The Node.js check the CLI makes before anything else: package.json's `engines.node` (the one place the minimum
 * is written, a `>=MAJOR.MINOR.PATCH` range) against the running version. An older Node fails later in
 * dependencies with messages that do not say why (undici, under @kubernetes/client-node, needs 22.19).
 */
const parse = (v: string): number[] | undefined => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
};

/** A one-line message when CURRENT does not satisfy ENGINES (`>=x.y.z`), else undefined. */
export function unsupportedNode(current: string, engines: string): string | undefined {
  const min = /^>=\s*(\S+)$/.exec(engines.trim())?.[1];
  const want = min ? parse(min) : undefined;
  const have = parse(current);
  if (!want || !have) return undefined;
  for (let i = 0; i < 3; i++) {
    if (have[i]! > want[i]!) return undefined;
    if (have[i]! < want[i]!)
      return `openirsa needs Node.js ${min} or newer (engines ${engines}); this is ${current}. Install Node.js 22 LTS or newer (https://nodejs.org/en/download).`;
  }
  return undefined;
}
