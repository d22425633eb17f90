/**
 * Heap held by the webhook's ServiceAccount cache, two ways, side by side in one run (alternating rounds):
 * - whole: every ServiceAccount kept whole, as @kubernetes/client-node's informer (ListWatch) keeps them (its
 *   watch events are the parsed JSON, as here; its list items are model objects of the same fields);
 * - stripped: what openirsa's Reflector hands to the cache (stripServiceAccount: name, namespace, resourceVersion,
 *   the prefix's annotations).
 * The objects are shaped like kube-apiserver's (uid, timestamps, labels, kubectl's last-applied annotation and
 * managedFields); one in ten carries an IRSA role annotation.
 *
 *   node --expose-gc --import tsx bench/sa-cache-memory.ts [COUNT] [ROUNDS]
 */
import { stripServiceAccount } from '../src/webhook/cache.js';

const count = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function apiObject(i: number): unknown {
  const ns = `team-${i % 200}`;
  const name = `sa-${i}`;
  const annotations: Record<string, string> = {
    'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: ns, labels: { app: name } },
    }),
  };
  if (i % 10 === 0) annotations['eks.amazonaws.com/role-arn'] = `arn:aws:iam::111122223333:role/app-${i}`;
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name,
      namespace: ns,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100000 + i),
      creationTimestamp: '2026-11-28T20:00:00Z',
      labels: { app: name, 'app.kubernetes.io/managed-by': 'kubectl' },
      annotations,
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-11-28T20:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
              'f:labels': { '.': {}, 'f:app': {}, 'f:app.kubernetes.io/managed-by': {} },
            },
          },
        },
      ],
    },
  };
}

// The wire form, as the list response carries it.
const wire = JSON.stringify(Array.from({ length: count }, (_, i) => apiObject(i)));

function heldBy(keep: (items: unknown[]) => unknown): number {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const items = JSON.parse(wire) as unknown[];
  const kept = keep(items);
  items.length = 0;
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (!kept) throw new Error('nothing kept');
  return after - before;
}

const modes = {
  whole: (items: unknown[]) =>
    new Map(
      items.map((o) => {
        const m = (o as { metadata: { namespace: string; name: string } }).metadata;
        return [`${m.namespace}/${m.name}`, o];
      }),
    ),
  stripped: (items: unknown[]) =>
    new Map(
      items.map((o) => {
        const sa = stripServiceAccount(o, 'eks.amazonaws.com')!;
        return [`${sa.namespace}/${sa.name}`, sa];
      }),
    ),
};

const results: Record<string, number[]> = { whole: [], stripped: [] };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 === 0 ? ['whole', 'stripped'] : ['stripped', 'whole']) {
    results[name]!.push(heldBy(modes[name as keyof typeof modes]));
  }
}
const mib = (b: number) => (b / 1048576).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`ServiceAccounts: ${count}, rounds: ${rounds} (alternating), Node.js ${process.version}`);
for (const [name, xs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(9)} median ${mib(median(xs))} MiB  (min ${mib(Math.min(...xs))}, max ${mib(Math.max(...xs))})  ` +
      `${(median(xs) / count).toFixed(0)} B per ServiceAccount`,
  );
}
console.log(`whole / stripped: ${(median(results.whole!) / median(results.stripped!)).toFixed(1)}x`);
