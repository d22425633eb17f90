/**
 * The pod mutation: a pure function from (pod, namespace, identity lookup, flags, random source) to the
 * reference webhook's JSON patch (reference pkg/handler/handler.go `getPodSpecPatch` @3bf80a34), serialised once, Go-compatibly.
 *
 * Beyond the reference: unknown container fields survive, `spec.os.name: windows` selects the Windows token
 * path, admission warnings explain malformed or clamped inputs, and a second run on a mutated pod changes
 * nothing (so `reinvocationPolicy: IfNeeded` is safe).
 */
import {
  ANNOTATION,
  DEFAULT_TOKEN_EXPIRATION,
  ENV,
  IRSA_TOKEN_PATH,
  IRSA_VOLUME_NAME,
  JITTER_BASE_SECONDS,
  JITTER_RANGE_SECONDS,
  MIN_TOKEN_EXPIRATION,
  POD_IDENTITY_LABEL,
  ROLE_ARN_PATTERN,
} from './constants.js';
import { goCsvFirstRecord } from './go/csv.js';
import {
  containerSegments,
  encodeStruct,
  writeContainer,
  type ContainerSegments,
  type Out,
} from './go/encode.js';
import { goFilepathJoin } from './go/filepath.js';
import { goString } from './go/json-string.js';
import { EnvVar, VolumeMount } from './go/k8s-types.js';
import { isJsonObject, takeInexactNumber } from './go/number.js';
import { maxInt64, parseGoInt64 } from './go/strconv.js';
import { canonicalisePod, checkPodTypes, podShallowOk } from './go/type-check.js';
import type { IdentityLookup, JsonPatchOperation, MutationConfig, MutationResult } from './types.js';

type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj | undefined => (isJsonObject(v) ? v : undefined);
const asArr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const has = (o: Obj | undefined, k: string): boolean =>
  o !== undefined && Object.prototype.hasOwnProperty.call(o, k);

/** JSON Pointer token of the pod-identity label key ("/" → "~1"). */
const LABEL_POINTER = '/metadata/labels/' + POD_IDENTITY_LABEL.replace(/~/g, '~0').replace(/\//g, '~1');

/** Everything that shapes one container's mutation (the reference's podPatchConfig). */
interface PatchConfig {
  skip: Set<string>;
  /** Non-empty selects the container-credentials env pair (the reference keys this on the URI). */
  fullUri: string;
  roleArn: string;
  tokenFile: string;
  volumeName: string;
  mountPath: string;
  useRegionalSts: boolean;
  region: string;
  /** Per pod: the encoded env entries added for each combination of missing groups (see mutateContainer). */
  envExtra: Array<string | undefined>;
  /** Per pod: the encoded token volume mount, once needed. */
  mountJson: string | undefined;
}

/** Names of the containers the `skip-containers` annotation leaves alone (Go csv, first record only). */
export function containersToSkip(value: string | undefined): { names: Set<string>; invalid: boolean } {
  if (value === undefined) return { names: new Set(), invalid: false };
  const rec = goCsvFirstRecord(value);
  return rec === undefined ? { names: new Set(), invalid: true } : { names: new Set(rec), invalid: false };
}

/** The token file path as the container sees it (§1.4, §1.5). */
export function tokenFilePath(mountPath: string, tokenPath: string, windows: boolean): string {
  // The inputs come from flags, so they rarely change between admissions: the last answer is remembered.
  const last = lastTokenFile;
  if (last.mountPath === mountPath && last.tokenPath === tokenPath && last.windows === windows)
    return last.path;
  const path = tokenFileUncached(mountPath, tokenPath, windows);
  lastTokenFile = { mountPath, tokenPath, windows, path };
  return path;
}
let lastTokenFile = { mountPath: '', tokenPath: '', windows: false, path: tokenFileUncached('', '', false) };
function tokenFileUncached(mountPath: string, tokenPath: string, windows: boolean): string {
  const p = goFilepathJoin(mountPath, tokenPath);
  return windows ? 'C:' + p.replaceAll('/', '\\') : p;
}

/** Windows pods: the reference's nodeSelector keys, plus `spec.os.name` (beyond the reference). */
export function isWindowsPod(spec: Obj | undefined): boolean {
  const sel = asObj(spec?.nodeSelector);
  if (
    sel !== undefined &&
    (sel['kubernetes.io/os'] === 'windows' || sel['beta.kubernetes.io/os'] === 'windows')
  )
    return true;
  return asObj(spec?.os)?.name === 'windows';
}

/** A pre-encoded container with extra env entries / a mount appended (each "" for none). */
function spliced(seg: ContainerSegments, envExtra: string, mountExtra: string): string {
  let s = seg.pre;
  if (seg.envCount > 0 || envExtra !== '')
    s += ',"env":[' + seg.env + (seg.envCount > 0 && envExtra !== '' ? ',' : '') + envExtra + ']';
  s += seg.mid;
  if (seg.mountCount > 0 || mountExtra !== '')
    s +=
      ',"volumeMounts":[' +
      seg.mounts +
      (seg.mountCount > 0 && mountExtra !== '' ? ',' : '') +
      mountExtra +
      ']';
  return s + seg.post;
}

function writeUnchanged(out: Out, container: Obj, seg: ContainerSegments | undefined): void {
  if (seg === undefined) writeContainer(out, container);
  else out.s += spliced(seg, '', '');
}

/** Append a container's re-serialised JSON to `out`; true when our edits changed it (addEnvToContainer). */
function mutateContainer(out: Out, c: unknown, pc: PatchConfig, seg: ContainerSegments | undefined): boolean {
  const container = asObj(c) ?? {};
  if (pc.skip.has(str(container.name))) {
    writeUnchanged(out, container, seg);
    return false;
  }
  const env = asArr(container.env) ?? [];
  let wi = false;
  let cc = false;
  let region = false;
  let sts = false;
  for (const e of env) {
    switch (str(asObj(e)?.name)) {
      case ENV.roleArn:
      case ENV.webIdentityTokenFile:
        wi = true;
        break;
      case ENV.containerCredentialsFullUri:
      case ENV.containerAuthorizationTokenFile:
        cc = true;
        break;
      case ENV.region:
      case ENV.defaultRegion:
        region = true;
        break;
      case ENV.stsRegionalEndpoints:
        sts = true;
        break;
    }
  }
  const mounts = asArr(container.volumeMounts) ?? [];
  let mountExists = false;
  for (const m of mounts) if (str(asObj(m)?.name) === pc.volumeName) mountExists = true;

  const ccMode = pc.fullUri !== '';
  // Early exit: no env and no mount is added (fixture rawPodHasAll).
  if (((!ccMode && wi) || (ccMode && cc)) && region && sts) {
    writeUnchanged(out, container, seg);
    return false;
  }

  const added: Obj[] = [];
  if (!sts && pc.useRegionalSts) added.push({ name: ENV.stsRegionalEndpoints, value: 'regional' });
  if (!region && pc.region !== '') {
    added.push({ name: ENV.defaultRegion, value: pc.region }, { name: ENV.region, value: pc.region });
  }
  if (ccMode) {
    if (!cc) {
      added.push(
        { name: ENV.containerCredentialsFullUri, value: pc.fullUri },
        { name: ENV.containerAuthorizationTokenFile, value: pc.tokenFile },
      );
    }
  } else if (!wi) {
    added.push(
      { name: ENV.roleArn, value: pc.roleArn },
      { name: ENV.webIdentityTokenFile, value: pc.tokenFile },
    );
  }
  if (added.length === 0 && mountExists) {
    writeUnchanged(out, container, seg);
    return false;
  }
  const mount = { name: pc.volumeName, readOnly: true, mountPath: pc.mountPath };
  if (seg !== undefined) {
    // `added` depends only on which of four groups the container lacks: encode each combination once per pod.
    const key = (sts ? 1 : 0) | (region ? 2 : 0) | (cc ? 4 : 0) | (wi ? 8 : 0);
    let envExtra = pc.envExtra[key];
    if (envExtra === undefined) {
      envExtra = '';
      for (const e of added) envExtra += (envExtra === '' ? '' : ',') + encodeStruct(e, EnvVar);
      pc.envExtra[key] = envExtra;
    }
    if (!mountExists) pc.mountJson ??= encodeStruct(mount, VolumeMount);
    out.s += spliced(seg, envExtra, mountExists ? '' : (pc.mountJson as string));
    return true;
  }
  const copy: Obj = { ...container };
  if (added.length > 0) copy.env = env.concat(added);
  if (!mountExists) copy.volumeMounts = mounts.concat([mount]);
  writeContainer(out, copy);
  return true;
}

/** Appends the add operation of a container list; true when our edits changed a container. */
function containersOp(
  out: Out,
  path: string,
  list: unknown[],
  pc: PatchConfig,
  segs: ContainerSegments[] | undefined,
): boolean {
  let changed = false;
  openOp(out, path);
  out.s += '[';
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out.s += ',';
    if (mutateContainer(out, list[i], pc, segs?.[i])) changed = true;
  }
  out.s += ']}';
  return changed;
}

/** Opens an add operation in `out`; the caller appends the value and closes it with `}`. */
function openOp(out: Out, path: string): void {
  out.s += (out.s.length === 1 ? '' : ',') + `{"op":"add","path":${goString(path)},"value":`;
}

function noPatch(warnings: string[] = []): MutationResult {
  return { changed: false, warnings };
}

/**
 * A result whose `patch` is parsed from `patchJson` only if someone reads it (the server only needs the bytes).
 * A class getter, not a per-object defineProperty, keeps result objects in V8's fast mode.
 */
class PatchedResult implements MutationResult {
  private parsed: JsonPatchOperation[] | undefined;
  constructor(
    readonly patchJson: string,
    readonly changed: boolean,
    readonly method: MutationResult['method'],
    readonly warnings: string[],
  ) {}
  get patch(): JsonPatchOperation[] {
    return (this.parsed ??= JSON.parse(this.patchJson) as JsonPatchOperation[]);
  }
  toJSON(): MutationResult {
    return {
      patch: this.patch,
      patchJson: this.patchJson,
      changed: this.changed,
      method: this.method,
      warnings: this.warnings,
    };
  }
}

function withPatch(
  patchJson: string,
  changed: boolean,
  method: MutationResult['method'],
  warnings: string[],
): MutationResult {
  return new PatchedResult(patchJson, changed, method, warnings);
}

/** A pod that decodes as a core/v1 Pod, ready for mutatePrepared (containers pre-encoded when possible). */
export interface PreparedPod {
  pod: Obj;
  /** Per container / init container, in order; absent when the two-pass path is used. */
  containers?: ContainerSegments[];
  initContainers?: ContainerSegments[];
}

/**
 * Decode-check a pod the way Go's json.Unmarshal into corev1.Pod does, before any lookup. Containers are
 * type-checked while they are encoded (one pass); on any doubt (an ill-typed value, a key Go would match
 * case-insensitively) the two-pass path gives Go's exact error or the canonicalised pod.
 */
export function preparePod(
  raw: unknown,
): ({ error: string } | { prepared: PreparedPod }) & { inexactNumber: boolean } {
  takeInexactNumber();
  const o = asObj(raw);
  if (o !== undefined && podShallowOk(o)) {
    const spec = asObj(o.spec);
    const containers = encodeAll(spec?.containers);
    const initContainers = containers === undefined ? undefined : encodeAll(spec?.initContainers);
    if (containers !== undefined && initContainers !== undefined)
      return { prepared: { pod: o, containers, initContainers }, inexactNumber: takeInexactNumber() };
  }
  const checked = checkPodTypes(raw);
  if (checked.error !== undefined) return { error: checked.error, inexactNumber: takeInexactNumber() };
  return {
    prepared: { pod: checked.folded ? canonicalisePod(raw as Obj) : (raw as Obj) },
    inexactNumber: takeInexactNumber(),
  };
}

function encodeAll(list: unknown): ContainerSegments[] | undefined {
  const a = asArr(list);
  if (a === undefined) return list === null || list === undefined ? [] : undefined;
  const out: ContainerSegments[] = [];
  for (const c of a) {
    const seg = containerSegments(c);
    if (seg === undefined) return undefined;
    out.push(seg);
  }
  return out;
}

/**
 * Mutate a decoded pod (the AdmissionRequest's `object`). `namespace` is the request's namespace (it overrides
 * the pod's own). `random()` in [0,1) drives the container-credentials jitter. Never throws on any `pod`.
 */
export function mutatePod(
  pod: unknown,
  namespace: string,
  lookup: IdentityLookup,
  config: MutationConfig,
  random: () => number,
): MutationResult {
  const p = preparePod(pod);
  if ('error' in p) return { changed: false, warnings: [], error: p.error };
  return mutatePrepared(p.prepared, namespace, lookup, config, random);
}

/** mutatePod for a pod that already passed checkPodTypes (and canonicalisePod if needed). */
export function mutateCheckedPod(
  pod: Obj,
  namespace: string,
  lookup: IdentityLookup,
  config: MutationConfig,
  random: () => number,
): MutationResult {
  return mutatePrepared({ pod }, namespace, lookup, config, random);
}

/** The mutation proper, for a pod preparePod accepted. */
export function mutatePrepared(
  prepared: PreparedPod,
  namespace: string,
  lookup: IdentityLookup,
  config: MutationConfig,
  random: () => number,
): MutationResult {
  const pod = prepared.pod;
  if (lookup.mode === 'none') return noPatch();
  if (lookup.mode === 'web-identity' && lookup.settings.roleArn === '') return noPatch();

  const metadata = asObj(pod.metadata);
  const spec = asObj(pod.spec);
  const annotations = asObj(metadata?.annotations);
  const warnings: string[] = [];
  const token = tokenSettings(lookup, config, `${namespace}/${str(spec?.serviceAccountName)}`, warnings);
  token.expiration = podTokenExpiration(token.expiration, annotations, config.annotationPrefix, warnings);
  if (lookup.mode === 'container-credentials' && token.expiration === DEFAULT_TOKEN_EXPIRATION)
    token.expiration = jitteredExpiration(random);
  const skip = skippedContainers(annotations, config.annotationPrefix, warnings);

  const pc: PatchConfig = {
    skip,
    fullUri: token.fullUri,
    roleArn: token.roleArn,
    tokenFile: tokenFilePath(token.mountPath, token.tokenPath, isWindowsPod(spec)),
    volumeName: token.volumeName,
    mountPath: token.mountPath,
    useRegionalSts: token.useRegionalSts,
    region: config.awsDefaultRegion,
    envExtra: [],
    mountJson: undefined,
  };

  const out: Out = { s: '[' };
  let changed = false;
  if (lookup.mode === 'container-credentials' && labelOp(out, metadata)) changed = true;
  if (tokenVolumeOp(out, spec, token)) changed = true;
  // The reference always sends this op; its value is a non-nil slice (`[]` for a pod without containers: an
  // interface holding an empty slice is not "empty" to omitempty).
  const containers = asArr(spec?.containers) ?? [];
  if (containersOp(out, '/spec/containers', containers, pc, prepared.containers)) changed = true;
  const inits = asArr(spec?.initContainers) ?? [];
  if (inits.length > 0 && containersOp(out, '/spec/initContainers', inits, pc, prepared.initContainers))
    changed = true;
  out.s += ']';

  return withPatch(
    out.s,
    changed,
    lookup.mode === 'container-credentials' ? 'container_credentials' : 'sts_web_identity',
    warnings,
  );
}

/** The projected token and the identity it stands for, from the lookup (and the flags, for container credentials). */
interface TokenSettings {
  expiration: bigint;
  audience: string;
  useRegionalSts: boolean;
  volumeName: string;
  mountPath: string;
  tokenPath: string;
  /** Empty in container-credentials mode. */
  roleArn: string;
  /** Empty in web-identity mode. */
  fullUri: string;
}

function tokenSettings(
  lookup: Exclude<IdentityLookup, { mode: 'none' }>,
  config: MutationConfig,
  serviceAccount: string,
  warnings: string[],
): TokenSettings {
  if (lookup.mode === 'container-credentials') {
    const cc = config.containerCredentials;
    return {
      expiration: lookup.common.tokenExpiration,
      audience: cc.audience,
      useRegionalSts: lookup.common.useRegionalSts,
      volumeName: cc.volumeName,
      mountPath: cc.mountPath,
      tokenPath: cc.tokenPath,
      roleArn: '',
      fullUri: cc.fullUri,
    };
  }
  const s = lookup.settings;
  if (!ROLE_ARN_PATTERN.test(s.roleArn)) {
    warnings.push(
      `role ARN ${JSON.stringify(s.roleArn)} of service account ${serviceAccount} is not a valid IAM role ARN ` +
        `(arn:<partition>:iam::<12-digit account>:role/<name>); it is used as given`,
    );
  }
  return {
    expiration: s.tokenExpiration,
    audience: s.audience,
    useRegionalSts: s.useRegionalSts,
    volumeName: IRSA_VOLUME_NAME,
    mountPath: config.tokenMountPath,
    tokenPath: IRSA_TOKEN_PATH,
    roleArn: s.roleArn,
    fullUri: '',
  };
}

/** The pod's token-expiration annotation overrides the SA/flag value (§1.2): invalid → ignored, valid → ≥ 600. */
function podTokenExpiration(
  expiration: bigint,
  annotations: Obj | undefined,
  prefix: string,
  warnings: string[],
): bigint {
  const expKey = `${prefix}/${ANNOTATION.tokenExpiration}`;
  if (!has(annotations, expKey)) return expiration;
  const raw = str(annotations?.[expKey]);
  const v = parseGoInt64(raw);
  if (v === undefined) {
    warnings.push(
      `annotation ${expKey}=${JSON.stringify(raw)} is not an integer; using ${expiration} seconds`,
    );
    return expiration;
  }
  if (v < MIN_TOKEN_EXPIRATION)
    warnings.push(
      `annotation ${expKey}=${JSON.stringify(raw)} is below the minimum of ${MIN_TOKEN_EXPIRATION} seconds; ` +
        `using ${MIN_TOKEN_EXPIRATION}`,
    );
  return maxInt64(v, MIN_TOKEN_EXPIRATION);
}

/** The container-credentials jitter for the default expiration: rand.Int63n(7201) + 79200. */
function jitteredExpiration(random: () => number): bigint {
  // A misbehaving random source cannot push it out of range.
  const r = Math.min(Math.max(Math.floor(random() * JITTER_RANGE_SECONDS), 0), JITTER_RANGE_SECONDS - 1);
  return BigInt(JITTER_BASE_SECONDS + (Number.isFinite(r) ? r : 0));
}

/** The skip-containers annotation's names; a warning (and none skipped) when it is not valid CSV. */
function skippedContainers(annotations: Obj | undefined, prefix: string, warnings: string[]): Set<string> {
  const skipKey = `${prefix}/${ANNOTATION.skipContainers}`;
  const skipValue = has(annotations, skipKey) ? str(annotations?.[skipKey]) : undefined;
  const skip = containersToSkip(skipValue);
  if (skip.invalid)
    warnings.push(
      `annotation ${skipKey}=${JSON.stringify(skipValue)} is not valid CSV; no container is skipped`,
    );
  return skip.names;
}

/** Appends the pod-identity label op (container credentials); true when the label was not already set. */
function labelOp(out: Out, metadata: Obj | undefined): boolean {
  const labels = asObj(metadata?.labels);
  if (labels === undefined) {
    openOp(out, '/metadata/labels');
    out.s += `{${goString(POD_IDENTITY_LABEL)}:"enabled"}}`;
    return true;
  }
  openOp(out, LABEL_POINTER);
  out.s += '"enabled"}';
  return labels[POD_IDENTITY_LABEL] !== 'enabled';
}

/** Appends the projected token volume's op unless the pod has a volume of that name; true when it did. */
function tokenVolumeOp(out: Out, spec: Obj | undefined, token: TokenSettings): boolean {
  const volumes = asArr(spec?.volumes);
  if (volumes !== undefined)
    for (const v of volumes) if (str(asObj(v)?.name) === token.volumeName) return false;
  const sat =
    (token.audience === '' ? '' : `"audience":${goString(token.audience)},`) +
    `"expirationSeconds":${token.expiration},"path":${goString(token.tokenPath)}`;
  const vol = `{"name":${goString(token.volumeName)},"projected":{"sources":[{"serviceAccountToken":{${sat}}}]}}`;
  if (volumes === undefined) {
    openOp(out, '/spec/volumes');
    out.s += `[${vol}]}`;
  } else {
    openOp(out, '/spec/volumes/0');
    out.s += `${vol}}`;
  }
  return true;
}
