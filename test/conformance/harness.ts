/**
 * The reference's fixture harness (upstream `TestUpdatePodSpec`, test/fixtures/pod-identity-webhook/README.md): every `*.pod.yaml` under a folder
 * is one Pod whose `testing.eks.amazonaws.com/*` annotations configure the webhook and carry the reference's
 * patch. A fixture passes when both patches give the same pod after API-server normalisation; byte identity is
 * reported separately, with the reason when the bytes differ.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
} from '../../src/webhook/constants.js';
import { Container, structAt } from '../../src/webhook/go/k8s-types.js';
import { parseGoBool, parseGoInt64 } from '../../src/webhook/go/strconv.js';
import { mutatePod } from '../../src/webhook/mutate.js';
import type { IdentityLookup, MutationConfig } from '../../src/webhook/types.js';

const T = 'testing.eks.amazonaws.com/';
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const DEFAULT_FIXTURE_DIR = resolve(REPO_ROOT, 'test/fixtures/pod-identity-webhook');

export interface FixtureResult {
  file: string;
  skipped: boolean;
  pass: boolean;
  byteIdentical: boolean;
  /** Why the fixture failed, or why its bytes differ (empty when identical). */
  notes: string[];
  actualPatch?: string;
  expectedPatch?: string;
}

export function findFixtures(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.pod.yaml') || name.endsWith('.pod.yml')) out.push(full);
    }
  };
  walk(dir);
  return out;
}

type Obj = Record<string, unknown>;

/** The fake cache and modifier the Go harness builds from the testing annotations. */
export function harnessSetup(annotations: Record<string, string>): {
  lookup: IdentityLookup;
  config: MutationConfig;
} {
  const a = (k: string): string | undefined => annotations[T + k];
  const sts = a('serviceAccount/sts-regional-endpoints') ?? a('handler/injectSTS');
  const exp = a('serviceAccount/token-expiration') ?? a('handler/expiration');
  const useRegionalSts = sts === undefined ? false : (parseGoBool(sts) ?? false);
  const tokenExpiration =
    exp === undefined ? DEFAULT_TOKEN_EXPIRATION : (parseGoInt64(exp) ?? DEFAULT_TOKEN_EXPIRATION);
  const uri = a('containercredentials/uri') ?? '';
  const config: MutationConfig = {
    annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
    tokenAudience: DEFAULT_TOKEN_AUDIENCE,
    tokenMountPath: a('handler/mountPath') ?? DEFAULT_TOKEN_MOUNT_PATH,
    tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
    awsDefaultRegion: a('handler/region') ?? '',
    stsRegionalEndpoint: false,
    containerCredentials: {
      audience: a('containercredentials/audience') ?? '',
      mountPath: a('containercredentials/mountPath') ?? '',
      volumeName: a('containercredentials/volumeName') ?? '',
      tokenPath: a('containercredentials/tokenPath') ?? '',
      fullUri: uri,
    },
  };
  const lookup: IdentityLookup =
    uri !== ''
      ? { mode: 'container-credentials', common: { useRegionalSts, tokenExpiration } }
      : {
          mode: 'web-identity',
          source: 'service-account',
          settings: {
            roleArn: a('serviceAccount/roleArn') ?? '',
            audience: a('serviceAccount/audience') ?? DEFAULT_TOKEN_AUDIENCE,
            useRegionalSts,
            tokenExpiration,
          },
        };
  return { lookup, config };
}

// ---- RFC 6902 (the subset the webhook emits, plus replace/remove) ------------------------------------------

function unescapePointer(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function applyPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new Error('patch is not a JSON array');
  const root = structuredClone(doc);
  for (const o of ops as Obj[]) {
    const path = String(o.path);
    if (!path.startsWith('/')) throw new Error(`bad path ${path}`);
    const tokens = path.slice(1).split('/').map(unescapePointer);
    const last = tokens.pop() as string;
    let parent: unknown = root;
    for (const t of tokens) {
      if (Array.isArray(parent)) parent = parent[Number(t)];
      else if (parent !== null && typeof parent === 'object') parent = (parent as Obj)[t];
      else parent = undefined;
      if (parent === undefined) throw new Error(`path ${path}: parent does not exist`);
    }
    if (parent === null || typeof parent !== 'object')
      throw new Error(`path ${path}: parent is not a container`);
    switch (o.op) {
      case 'add':
        if (!('value' in o)) throw new Error(`add ${path} has no value`);
        if (Array.isArray(parent)) {
          const i = last === '-' ? parent.length : Number(last);
          if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`path ${path}: bad index`);
          parent.splice(i, 0, structuredClone(o.value));
        } else (parent as Obj)[last] = structuredClone(o.value);
        break;
      case 'replace':
      case 'remove':
        if (Array.isArray(parent)) {
          const i = Number(last);
          if (!(i in parent)) throw new Error(`path ${path} does not exist`);
          if (o.op === 'remove') parent.splice(i, 1);
          else parent[i] = structuredClone(o.value);
        } else {
          if (!(last in (parent as Obj))) throw new Error(`path ${path} does not exist`);
          if (o.op === 'remove') delete (parent as Obj)[last];
          else (parent as Obj)[last] = structuredClone(o.value);
        }
        break;
      default:
        throw new Error(`unsupported op ${String(o.op)}`);
    }
  }
  return root;
}

// ---- API-server normalisation and comparison ---------------------------------------------------------------

/** Drop what the API server would not store: null, {} and [] values (e.g. `resources: {}`, grpc `service: null`). */
export function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v as Obj)) {
      const n = normalise(x);
      if (n === null || n === undefined) continue;
      if (Array.isArray(n) && n.length === 0) continue;
      if (typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 0) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}

interface Diff {
  path: string;
  /** An extra key on our side that k8s.io/api v0.36.0 does not know: preserved, and dropped by the API server. */
  preservedUnknown: boolean;
}

function diff(
  ours: unknown,
  theirs: unknown,
  path: string[],
  schemaPath: string[] | undefined,
  out: Diff[],
): void {
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    if (ours.length !== theirs.length) out.push({ path: path.join('.'), preservedUnknown: false });
    for (let i = 0; i < Math.min(ours.length, theirs.length); i++)
      diff(ours[i], theirs[i], [...path, String(i)], schemaPath, out);
    return;
  }
  if (ours !== null && theirs !== null && typeof ours === 'object' && typeof theirs === 'object') {
    const o = ours as Obj;
    const t = theirs as Obj;
    // Inside spec.containers[i] / spec.initContainers[i] we know the Go schema.
    let sp = schemaPath;
    if (
      sp === undefined &&
      path.length === 3 &&
      path[0] === 'spec' &&
      /^(initC|c)ontainers$/.test(path[1] ?? '')
    )
      sp = [];
    const struct = sp === undefined ? undefined : structAt(Container, sp);
    for (const k of new Set([...Object.keys(o), ...Object.keys(t)])) {
      const p = [...path, k];
      if (!(k in t)) {
        const unknown = struct !== undefined && !struct.byJson.has(k) && !struct.partial;
        out.push({ path: p.join('.'), preservedUnknown: unknown });
      } else if (!(k in o)) out.push({ path: p.join('.'), preservedUnknown: false });
      else diff(o[k], t[k], p, sp === undefined ? undefined : [...sp, k], out);
    }
    return;
  }
  if (ours !== theirs) out.push({ path: path.join('.'), preservedUnknown: false });
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 40);
  return `first difference at byte ${i}: ours …${a.slice(from, i + 40)}… reference …${b.slice(from, i + 40)}…`;
}

export function runFixture(file: string, baseDir: string): FixtureResult {
  const rel = relative(baseDir, file) || file;
  const result: FixtureResult = { file: rel, skipped: false, pass: false, byteIdentical: false, notes: [] };
  let pod: Obj;
  try {
    pod = parseYaml(readFileSync(file, 'utf8'), { version: '1.1', uniqueKeys: false }) as Obj;
  } catch (e) {
    result.notes.push(`cannot parse YAML: ${(e as Error).message}`);
    return result;
  }
  const annotations = ((pod?.metadata as Obj | undefined)?.annotations ?? {}) as Record<string, string>;
  if (parseGoBool(String(annotations[T + 'skip'] ?? '')) === true) {
    result.skipped = true;
    return result;
  }
  const expected = annotations[T + 'expectedPatch'];
  if (typeof expected !== 'string') {
    result.notes.push(`no ${T}expectedPatch annotation`);
    return result;
  }
  result.expectedPatch = expected;
  // The Go harness forces namespace and service account to "default".
  (pod.metadata as Obj).namespace = 'default';
  pod.spec = { ...(pod.spec ?? {}), serviceAccountName: 'default' };
  const { lookup, config } = harnessSetup(annotations);
  const r = mutatePod(pod, 'default', lookup, config, () => 0);
  if (r.error !== undefined) {
    result.notes.push(`pod rejected: ${r.error}`);
    return result;
  }
  // No patch marshals as `null` in the Go harness.
  const actual = r.patchJson ?? 'null';
  result.actualPatch = actual;
  result.byteIdentical = actual === expected;
  const asOps = (json: string): unknown => JSON.parse(json) ?? [];
  let ours: unknown;
  let theirs: unknown;
  try {
    ours = normalise(applyPatch(pod, asOps(actual)));
  } catch (e) {
    result.notes.push(`our patch does not apply: ${(e as Error).message}`);
    return result;
  }
  try {
    theirs = normalise(applyPatch(pod, asOps(expected)));
  } catch (e) {
    result.notes.push(`the expected patch does not apply: ${(e as Error).message}`);
    return result;
  }
  const diffs: Diff[] = [];
  diff(ours, theirs, [], undefined, diffs);
  const real = diffs.filter((d) => !d.preservedUnknown);
  for (const d of diffs.filter((d) => d.preservedUnknown))
    result.notes.push(
      `preserves ${d.path}, a field k8s.io/api v0.36.0 does not know (the reference drops it)`,
    );
  for (const d of real) result.notes.push(`differs at ${d.path}`);
  result.pass = real.length === 0;
  // Where openirsa deliberately goes beyond the reference for this pod, say so.
  const spec = pod.spec as Obj;
  const sel = (spec.nodeSelector ?? {}) as Obj;
  if (
    (spec.os as Obj | undefined)?.name === 'windows' &&
    sel['kubernetes.io/os'] !== 'windows' &&
    sel['beta.kubernetes.io/os'] !== 'windows'
  )
    result.notes.push(
      'spec.os.name: windows selects the Windows token path (the reference only reads nodeSelector)',
    );
  if (r.warnings.length > 0)
    result.notes.push(`admission warnings (not in the patch): ${r.warnings.join('; ')}`);
  if (!result.byteIdentical && result.notes.length === 0)
    result.notes.push(firstDifference(actual, expected));
  return result;
}

export function formatResult(r: FixtureResult): string {
  if (r.skipped) return `SKIP ${r.file} (testing.eks.amazonaws.com/skip: true)`;
  const head = `${r.pass ? 'PASS' : 'FAIL'} ${r.file}  semantic: ${r.pass ? 'yes' : 'no'}  byte-identical: ${
    r.byteIdentical ? 'yes' : 'no'
  }`;
  return r.notes.length === 0 ? head : head + '\n' + r.notes.map((n) => `       ${n}`).join('\n');
}
