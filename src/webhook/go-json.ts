/**
 * Go-compatible JSON for the parts of a core/v1 Pod the webhook reads or re-serialises (as Go's encoding/json and k8s.io/api/core/v1 write it).
 *
 * The reference round-trips containers through typed `corev1.Container` structs, so its output has Go struct
 * field order, Go omitempty semantics, sorted map keys, canonical Quantities and Go string escaping. We do the
 * same from a table of the k8s.io/api v0.36.0 struct tags, with one deliberate difference: fields the table
 * does not know are appended after the known ones instead of dropped (reference bugs #208, #84).
 *
 * The same table validates a decoded pod the way `json.Unmarshal(raw, &pod)` would, producing Go's
 * UnmarshalTypeError messages, so the admission response for an ill-typed pod matches the reference.
 */
import {
  goIntOf,
  GoNumber,
  INT32_RANGE,
  INT64_RANGE,
  isExactInteger,
  isJsonObject,
  numberText,
  type GoIntRange,
} from './go-number.js';

/**
 * Set when a plain number (from JSON.parse) that is not an exact integer was read or written: its source text may
 * differ from what a double prints, so the caller must parse the body again with parseGoJsonLossless.
 */
let inexact = false;
const noteNumber = (v: number): void => {
  if (!isExactInteger(v)) inexact = true;
};
/** Read and clear the flag (see `inexact`). */
export function takeInexactNumber(): boolean {
  const seen = inexact;
  inexact = false;
  return seen;
}
import { goQuantityString, QuantityError } from './mutate-quantity.js';

// ---------------------------------------------------------------------------------------------------------------
// Strings

const NEEDS_GO_ESCAPE = /[<>&\u2028\u2029]/;
const GO_ESCAPE_ALL = /[<>&\u2028\u2029]/g;
const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Go encoding/json string encoding (HTML-safe escaping, U+2028/2029, invalid UTF-16 → U+FFFD). */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

export function goString(s: string): string {
  // Fast path (almost every string in a pod): printable ASCII needing no escape at all.
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      plain = false;
      break;
    }
  }
  if (plain) return '"' + s + '"';
  // Node 20 has these (ES2024); Go replaces unpaired surrogates with U+FFFD.
  const w = s as unknown as WellFormed;
  if (!w.isWellFormed()) s = w.toWellFormed();
  const out = JSON.stringify(s);
  return NEEDS_GO_ESCAPE.test(out) ? out.replace(GO_ESCAPE_ALL, (c) => GO_ESCAPES[c] as string) : out;
}

/** Byte-wise (UTF-8, i.e. code point) order, which is how Go sorts map keys. */
export function goKeyCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after every BMP character in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function goScalar(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return goString(v);
    case 'number':
      noteNumber(v);
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return v instanceof GoNumber ? v.text : 'null';
    default:
      return 'null';
  }
}

interface Frame {
  /** The array, or the object's values in key order. */
  values: unknown[];
  /** The object's encoded keys (`"k":`), undefined for arrays. */
  keys: string[] | undefined;
  next: number;
}

/**
 * Encode an arbitrary decoded JSON value (an unknown field) with Go's escaping, keeping its key order.
 * Iterative: JSON.parse accepts nesting as deep as Go does (10000), which recursion (even JSON.stringify's)
 * cannot print.
 */
export function goAny(root: unknown): string {
  if (root === null || typeof root !== 'object' || root instanceof GoNumber) return goScalar(root);
  let out = '';
  const stack: Frame[] = [];
  const open = (v: object): void => {
    if (Array.isArray(v)) {
      out += '[';
      stack.push({ values: v, keys: undefined, next: 0 });
    } else {
      const o = v as Record<string, unknown>;
      const ks = Object.keys(o);
      out += '{';
      stack.push({ values: ks.map((k) => o[k]), keys: ks.map((k) => goString(k) + ':'), next: 0 });
    }
  };
  open(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    if (f.next === f.values.length) {
      out += f.keys === undefined ? ']' : '}';
      stack.pop();
      continue;
    }
    const i = f.next++;
    if (i > 0) out += ',';
    if (f.keys !== undefined) out += f.keys[i] as string;
    const v = f.values[i];
    if (v !== null && typeof v === 'object' && !(v instanceof GoNumber)) open(v);
    else out += goScalar(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The schema: k8s.io/api core/v1 @ v0.36.0, Container and everything below it, plus the Pod fields we read.

/**
 * A Go type. Every descriptor has the same four properties (one hidden class), which keeps the encoder's
 * property reads monomorphic: this is the hot loop of the webhook.
 */
export interface GoType {
  k: 'str' | 'bool' | 'int' | 'struct' | 'slice' | 'map' | 'quantity' | 'intstr' | 'opaque';
  /** Go type name for error messages ("string", "int32", "v1.PullPolicy", "[]v1.EnvVar", ...). */
  go: string;
  s: GoStruct | null;
  elem: GoType | null;
  /** The value range of an int (int32 or int64), null for other kinds. */
  range: GoIntRange | null;
}

export interface GoField {
  json: string;
  /** `"json":`, precomputed for the encoder. */
  key: string;
  /** `,"json":` (the key after another field). */
  ckey: string;
  t: GoType;
  ptr: boolean;
  omitempty: boolean;
  /** Go names of the embedded (inline) structs this field is promoted through, for error paths. */
  via: string[];
}

export interface GoStruct {
  /** Go type name without package, e.g. "Container". */
  name: string;
  fields: GoField[];
  byJson: Map<string, GoField>;
  byFold: Map<string, GoField>;
  /** Partial tables (Pod, PodSpec, ...) only validate the fields we read; others are not "unknown". */
  partial: boolean;
  /**
   * Field names are distinct and none is inherited from Object.prototype, so an object whose own key count equals
   * the number of fields found in it has no unknown keys (the encoder then skips looking for them).
   */
  countable: boolean;
}

const mkType = (
  k: GoType['k'],
  go: string,
  s: GoStruct | null,
  elem: GoType | null,
  range: GoIntRange | null = null,
): GoType => ({ k, go, s, elem, range });
const STR = (go = 'string'): GoType => mkType('str', go, null, null);
const BOOL: GoType = mkType('bool', 'bool', null, null);
const I32: GoType = mkType('int', 'int32', null, null, INT32_RANGE);
const I64: GoType = mkType('int', 'int64', null, null, INT64_RANGE);
const QTY: GoType = mkType('quantity', 'resource.Quantity', null, null);
const INTSTR: GoType = mkType('intstr', 'intstr.IntOrString', null, null);
/** Not checked here (containers in the single-pass path are checked while they are encoded). */
const OPAQUE: GoType = mkType('opaque', 'v1.Container', null, null);
const ST = (s: GoStruct): GoType => mkType('struct', 'v1.' + s.name, s, null);
const SLICE = (elem: GoType): GoType => mkType('slice', '[]' + elem.go, null, elem);
const MAP = (elem: GoType, go: string): GoType => mkType('map', go, null, elem);

export function goTypeName(t: GoType): string {
  return t.go;
}

/** Field spec: [json, type, flags] where flags has 'p' (pointer) and/or 'o' (omitempty). */
type FieldSpec = [string, GoType, string] | { inline: GoStruct; as: string };

function mkField(json: string, t: GoType, ptr: boolean, omitempty: boolean, via: string[]): GoField {
  const key = JSON.stringify(json) + ':';
  return { json, key, ckey: ',' + key, t, ptr, omitempty, via };
}

function struct(name: string, specs: FieldSpec[], partial = false): GoStruct {
  const fields: GoField[] = [];
  for (const spec of specs) {
    if (Array.isArray(spec)) {
      const [json, t, flags] = spec;
      fields.push(mkField(json, t, flags.includes('p'), flags.includes('o'), []));
    } else {
      for (const f of spec.inline.fields)
        fields.push(mkField(f.json, f.t, f.ptr, f.omitempty, [spec.as, ...f.via]));
    }
  }
  const byJson = new Map(fields.map((f) => [f.json, f]));
  const byFold = new Map(fields.map((f) => [f.json.toLowerCase(), f]));
  const countable = byJson.size === fields.length && fields.every((f) => !(f.json in Object.prototype));
  return { name, fields, byJson, byFold, partial, countable };
}

const LocalObjectReference = struct('LocalObjectReference', [['name', STR(), 'o']]);
const ContainerPort = struct('ContainerPort', [
  ['name', STR(), 'o'],
  ['hostPort', I32, 'o'],
  ['containerPort', I32, ''],
  ['protocol', STR('v1.Protocol'), 'o'],
  ['hostIP', STR(), 'o'],
]);
const ConfigMapEnvSource = struct('ConfigMapEnvSource', [
  { inline: LocalObjectReference, as: 'LocalObjectReference' },
  ['optional', BOOL, 'po'],
]);
const SecretEnvSource = struct('SecretEnvSource', [
  { inline: LocalObjectReference, as: 'LocalObjectReference' },
  ['optional', BOOL, 'po'],
]);
const EnvFromSource = struct('EnvFromSource', [
  ['prefix', STR(), 'o'],
  ['configMapRef', ST(ConfigMapEnvSource), 'po'],
  ['secretRef', ST(SecretEnvSource), 'po'],
]);
const ObjectFieldSelector = struct('ObjectFieldSelector', [
  ['apiVersion', STR(), 'o'],
  ['fieldPath', STR(), ''],
]);
const ResourceFieldSelector = struct('ResourceFieldSelector', [
  ['containerName', STR(), 'o'],
  ['resource', STR(), ''],
  // A struct: omitempty never drops it, so an unset divisor is emitted as "0".
  ['divisor', QTY, 'o'],
]);
const ConfigMapKeySelector = struct('ConfigMapKeySelector', [
  { inline: LocalObjectReference, as: 'LocalObjectReference' },
  ['key', STR(), ''],
  ['optional', BOOL, 'po'],
]);
const SecretKeySelector = struct('SecretKeySelector', [
  { inline: LocalObjectReference, as: 'LocalObjectReference' },
  ['key', STR(), ''],
  ['optional', BOOL, 'po'],
]);
const FileKeySelector = struct('FileKeySelector', [
  ['volumeName', STR(), ''],
  ['path', STR(), ''],
  ['key', STR(), ''],
  ['optional', BOOL, 'po'],
]);
const EnvVarSource = struct('EnvVarSource', [
  ['fieldRef', ST(ObjectFieldSelector), 'po'],
  ['resourceFieldRef', ST(ResourceFieldSelector), 'po'],
  ['configMapKeyRef', ST(ConfigMapKeySelector), 'po'],
  ['secretKeyRef', ST(SecretKeySelector), 'po'],
  ['fileKeyRef', ST(FileKeySelector), 'po'],
]);
export const EnvVar = struct('EnvVar', [
  ['name', STR(), ''],
  ['value', STR(), 'o'],
  ['valueFrom', ST(EnvVarSource), 'po'],
]);
const ResourceClaim = struct('ResourceClaim', [
  ['name', STR(), ''],
  ['request', STR(), 'o'],
]);
const ResourceRequirements = struct('ResourceRequirements', [
  ['limits', MAP(QTY, 'v1.ResourceList'), 'o'],
  ['requests', MAP(QTY, 'v1.ResourceList'), 'o'],
  ['claims', SLICE(ST(ResourceClaim)), 'o'],
]);
const ContainerResizePolicy = struct('ContainerResizePolicy', [
  ['resourceName', STR('v1.ResourceName'), ''],
  ['restartPolicy', STR('v1.ResourceResizeRestartPolicy'), ''],
]);
const ContainerRestartRuleOnExitCodes = struct('ContainerRestartRuleOnExitCodes', [
  ['operator', STR('v1.ContainerRestartRuleOnExitCodesOperator'), 'o'],
  ['values', SLICE(I32), 'o'],
]);
const ContainerRestartRule = struct('ContainerRestartRule', [
  ['action', STR('v1.ContainerRestartRuleAction'), 'o'],
  ['exitCodes', ST(ContainerRestartRuleOnExitCodes), 'po'],
]);
export const VolumeMount = struct('VolumeMount', [
  ['name', STR(), ''],
  ['readOnly', BOOL, 'o'],
  ['recursiveReadOnly', STR('v1.RecursiveReadOnlyMode'), 'po'],
  ['mountPath', STR(), ''],
  ['subPath', STR(), 'o'],
  ['mountPropagation', STR('v1.MountPropagationMode'), 'po'],
  ['subPathExpr', STR(), 'o'],
]);
const VolumeDevice = struct('VolumeDevice', [
  ['name', STR(), ''],
  ['devicePath', STR(), ''],
]);
const ExecAction = struct('ExecAction', [['command', SLICE(STR()), 'o']]);
const HTTPHeader = struct('HTTPHeader', [
  ['name', STR(), ''],
  ['value', STR(), ''],
]);
const HTTPGetAction = struct('HTTPGetAction', [
  ['path', STR(), 'o'],
  ['port', INTSTR, ''],
  ['host', STR(), 'o'],
  ['scheme', STR('v1.URIScheme'), 'o'],
  ['httpHeaders', SLICE(ST(HTTPHeader)), 'o'],
]);
const TCPSocketAction = struct('TCPSocketAction', [
  ['port', INTSTR, ''],
  ['host', STR(), 'o'],
]);
const GRPCAction = struct('GRPCAction', [
  ['port', I32, ''],
  // *string without omitempty: emitted as null when unset.
  ['service', STR(), 'p'],
]);
const SleepAction = struct('SleepAction', [['seconds', I64, '']]);
const ProbeHandler = struct('ProbeHandler', [
  ['exec', ST(ExecAction), 'po'],
  ['httpGet', ST(HTTPGetAction), 'po'],
  ['tcpSocket', ST(TCPSocketAction), 'po'],
  ['grpc', ST(GRPCAction), 'po'],
]);
const Probe = struct('Probe', [
  { inline: ProbeHandler, as: 'ProbeHandler' },
  ['initialDelaySeconds', I32, 'o'],
  ['timeoutSeconds', I32, 'o'],
  ['periodSeconds', I32, 'o'],
  ['successThreshold', I32, 'o'],
  ['failureThreshold', I32, 'o'],
  ['terminationGracePeriodSeconds', I64, 'po'],
]);
const LifecycleHandler = struct('LifecycleHandler', [
  ['exec', ST(ExecAction), 'po'],
  ['httpGet', ST(HTTPGetAction), 'po'],
  ['tcpSocket', ST(TCPSocketAction), 'po'],
  ['sleep', ST(SleepAction), 'po'],
]);
const Lifecycle = struct('Lifecycle', [
  ['postStart', ST(LifecycleHandler), 'po'],
  ['preStop', ST(LifecycleHandler), 'po'],
  ['stopSignal', STR('v1.Signal'), 'po'],
]);
const Capabilities = struct('Capabilities', [
  ['add', SLICE(STR('v1.Capability')), 'o'],
  ['drop', SLICE(STR('v1.Capability')), 'o'],
]);
const SELinuxOptions = struct('SELinuxOptions', [
  ['user', STR(), 'o'],
  ['role', STR(), 'o'],
  ['type', STR(), 'o'],
  ['level', STR(), 'o'],
]);
const WindowsSecurityContextOptions = struct('WindowsSecurityContextOptions', [
  ['gmsaCredentialSpecName', STR(), 'po'],
  ['gmsaCredentialSpec', STR(), 'po'],
  ['runAsUserName', STR(), 'po'],
  ['hostProcess', BOOL, 'po'],
]);
const SeccompProfile = struct('SeccompProfile', [
  ['type', STR('v1.SeccompProfileType'), ''],
  ['localhostProfile', STR(), 'po'],
]);
const AppArmorProfile = struct('AppArmorProfile', [
  ['type', STR('v1.AppArmorProfileType'), ''],
  ['localhostProfile', STR(), 'po'],
]);
const SecurityContext = struct('SecurityContext', [
  ['capabilities', ST(Capabilities), 'po'],
  ['privileged', BOOL, 'po'],
  ['seLinuxOptions', ST(SELinuxOptions), 'po'],
  ['windowsOptions', ST(WindowsSecurityContextOptions), 'po'],
  ['runAsUser', I64, 'po'],
  ['runAsGroup', I64, 'po'],
  ['runAsNonRoot', BOOL, 'po'],
  ['readOnlyRootFilesystem', BOOL, 'po'],
  ['allowPrivilegeEscalation', BOOL, 'po'],
  ['procMount', STR('v1.ProcMountType'), 'po'],
  ['seccompProfile', ST(SeccompProfile), 'po'],
  ['appArmorProfile', ST(AppArmorProfile), 'po'],
]);
export const Container = struct('Container', [
  ['name', STR(), ''],
  ['image', STR(), 'o'],
  ['command', SLICE(STR()), 'o'],
  ['args', SLICE(STR()), 'o'],
  ['workingDir', STR(), 'o'],
  ['ports', SLICE(ST(ContainerPort)), 'o'],
  ['envFrom', SLICE(ST(EnvFromSource)), 'o'],
  ['env', SLICE(ST(EnvVar)), 'o'],
  ['resources', ST(ResourceRequirements), 'o'],
  ['resizePolicy', SLICE(ST(ContainerResizePolicy)), 'o'],
  ['restartPolicy', STR('v1.ContainerRestartPolicy'), 'po'],
  ['restartPolicyRules', SLICE(ST(ContainerRestartRule)), 'o'],
  ['volumeMounts', SLICE(ST(VolumeMount)), 'o'],
  ['volumeDevices', SLICE(ST(VolumeDevice)), 'o'],
  ['livenessProbe', ST(Probe), 'po'],
  ['readinessProbe', ST(Probe), 'po'],
  ['startupProbe', ST(Probe), 'po'],
  ['lifecycle', ST(Lifecycle), 'po'],
  ['terminationMessagePath', STR(), 'o'],
  ['terminationMessagePolicy', STR('v1.TerminationMessagePolicy'), 'o'],
  ['imagePullPolicy', STR('v1.PullPolicy'), 'o'],
  ['securityContext', ST(SecurityContext), 'po'],
  ['stdin', BOOL, 'o'],
  ['stdinOnce', BOOL, 'o'],
  ['tty', BOOL, 'o'],
]);

// Partial tables: only the Pod fields the webhook reads are type-checked (the reference's decode would also
// reject ill-typed fields elsewhere in the pod; the API server rejects those pods anyway).
const ObjectMeta = struct(
  'ObjectMeta',
  [
    ['name', STR(), 'o'],
    ['generateName', STR(), 'o'],
    ['namespace', STR(), 'o'],
    ['uid', STR('types.UID'), 'o'],
    ['labels', MAP(STR(), 'map[string]string'), 'o'],
    ['annotations', MAP(STR(), 'map[string]string'), 'o'],
  ],
  true,
);
const Volume = struct('Volume', [['name', STR(), '']], true);
const PodOS = struct('PodOS', [['name', STR('v1.OSName'), '']], true);
const PodSpec = struct(
  'PodSpec',
  [
    ['volumes', SLICE(ST(Volume)), 'o'],
    ['initContainers', SLICE(ST(Container)), 'o'],
    ['containers', SLICE(ST(Container)), ''],
    ['nodeSelector', MAP(STR(), 'map[string]string'), 'o'],
    ['serviceAccountName', STR(), 'o'],
    ['serviceAccount', STR(), 'o'],
    ['os', ST(PodOS), 'po'],
  ],
  true,
);
export const Pod = struct(
  'Pod',
  [
    ['kind', STR(), 'o'],
    ['apiVersion', STR(), 'o'],
    ['metadata', ST(ObjectMeta), 'o'],
    ['spec', ST(PodSpec), 'o'],
  ],
  true,
);

/** Pod with the containers left unchecked: the single-pass path checks them while encoding them. */
const PodSpecShallow = struct(
  'PodSpec',
  PodSpec.fields.map((f) =>
    f.json === 'containers' || f.json === 'initContainers'
      ? ([f.json, SLICE(OPAQUE), f.omitempty ? 'o' : ''] as FieldSpec)
      : ([f.json, f.t, (f.ptr ? 'p' : '') + (f.omitempty ? 'o' : '')] as FieldSpec),
  ),
  true,
);
const PodShallow = struct(
  'Pod',
  Pod.fields.map(
    (f) => [f.json, f.json === 'spec' ? ST(PodSpecShallow) : f.t, f.omitempty ? 'o' : ''] as FieldSpec,
  ),
  true,
);

/** checkPodTypes without the containers: true when the rest of the pod is well-typed and has no folded keys. */
export function podShallowOk(pod: Record<string, unknown>): boolean {
  foldSeen = false;
  try {
    checkStruct(pod, PodShallow, '');
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw e;
  }
  return !foldSeen;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding checks (json.Unmarshal into the typed struct)

/** The JSON kind Go's UnmarshalTypeError names ("string", "number", "bool", "array", "object"). */
export function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return v instanceof GoNumber ? 'number' : 'object';
  }
}

interface Ctx {
  /** Go name of the struct holding the field being decoded ("" at the top level). */
  struct: string;
  /** Dotted JSON path of the field (Go's errorContext.FieldStack, embedded struct names included). */
  path: string;
}

class DecodeError extends Error {}

function typeError(value: string, t: GoType, ctx: Ctx, top: string): DecodeError {
  if (ctx.struct === '' && ctx.path === '')
    return new DecodeError(`json: cannot unmarshal ${value} into Go value of type ${top}`);
  return new DecodeError(
    `json: cannot unmarshal ${value} into Go struct field ${ctx.struct}.${ctx.path} of type ${goTypeName(t)}`,
  );
}

/** Set by checkStruct when a key matched a field only case-insensitively (Go accepts `Name` for `name`). */
let foldSeen = false;

function checkValue(v: unknown, t: GoType, ctx: Ctx): void {
  if (v === null || v === undefined) return; // null leaves Go's zero value
  switch (t.k) {
    case 'opaque':
      return;
    case 'str':
      if (typeof v !== 'string') throw typeError(jsonKind(v), t, ctx, t.go);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(jsonKind(v), t, ctx, 'bool');
      return;
    case 'int':
      if (typeof v === 'number') noteNumber(v);
      else if (!(v instanceof GoNumber)) throw typeError(jsonKind(v), t, ctx, t.go);
      // Go parses the number's exact text (strconv.ParseInt) and names it in the error.
      if (goIntOf(v, t.range as GoIntRange) === undefined)
        throw typeError('number ' + numberText(v), t, ctx, t.go);
      return;
    case 'quantity':
      if (typeof v === 'number') noteNumber(v);
      try {
        goQuantityString(v);
      } catch (e) {
        if (e instanceof QuantityError) throw new DecodeError(e.message);
        throw e;
      }
      return;
    case 'intstr':
      // IntOrString.UnmarshalJSON re-enters json.Unmarshal, so its errors carry no struct context.
      if (typeof v === 'string') return;
      if (typeof v === 'number') noteNumber(v);
      else if (!(v instanceof GoNumber))
        throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type int32`);
      if (goIntOf(v, INT32_RANGE) === undefined)
        throw new DecodeError(`json: cannot unmarshal number ${numberText(v)} into Go value of type int32`);
      return;
    case 'slice':
      if (!Array.isArray(v)) throw typeError(jsonKind(v), t, ctx, t.go);
      for (const e of v) checkValue(e, t.elem as GoType, ctx);
      return;
    case 'map': {
      if (!isJsonObject(v)) throw typeError(jsonKind(v), t, ctx, t.go);
      for (const k of Object.keys(v)) checkValue(v[k], t.elem as GoType, ctx);
      return;
    }
    case 'struct':
      if (!isJsonObject(v)) throw typeError(jsonKind(v), t, ctx, 'v1.' + (t.s as GoStruct).name);
      checkStruct(v, t.s as GoStruct, ctx.path);
      return;
  }
}

function checkStruct(o: Record<string, unknown>, s: GoStruct, path: string): void {
  const prefix = path === '' ? '' : path + '.';
  for (const k of Object.keys(o)) {
    let f = s.byJson.get(k);
    if (f === undefined) {
      f = s.byFold.get(k.toLowerCase());
      if (f === undefined) continue; // unknown: preserved (or not ours to check, in partial tables)
      foldSeen = true;
    }
    const via = f.via.length === 0 ? '' : f.via.join('.') + '.';
    checkValue(o[k], f.t, { struct: s.name, path: prefix + via + f.json });
  }
}

/**
 * Check a decoded pod the way Go's json.Unmarshal into corev1.Pod would (for the fields in our tables).
 * Returns Go's error message, or undefined. `folded` says some key matched only case-insensitively, so the
 * pod must go through canonicalisePod before it is read.
 */
export function checkPodTypes(pod: unknown): { error?: string; folded: boolean } {
  foldSeen = false;
  try {
    if (pod === null || pod === undefined) return { error: 'unexpected end of JSON input', folded: false };
    if (!isJsonObject(pod))
      return { error: `json: cannot unmarshal ${jsonKind(pod)} into Go value of type v1.Pod`, folded: false };
    checkStruct(pod, Pod, '');
    return { folded: foldSeen };
  } catch (e) {
    if (e instanceof DecodeError) return { error: e.message, folded: false };
    throw e;
  }
}

/**
 * Rewrite keys that Go would match case-insensitively to their canonical names (last one wins, as in Go), in a
 * copy: the caller's object is never modified. Only needed when checkPodTypes reported `folded`.
 */
export function canonicalisePod(pod: Record<string, unknown>): Record<string, unknown> {
  return canonStruct(pod, Pod);
}

function canonValue(v: unknown, t: GoType): unknown {
  if (v === null || v === undefined) return v;
  if (t.k === 'struct') return canonStruct(v as Record<string, unknown>, t.s as GoStruct);
  if (t.k === 'slice') return (v as unknown[]).map((e) => canonValue(e, t.elem as GoType));
  return v;
}

function canonStruct(o: Record<string, unknown>, s: GoStruct): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const f = s.byJson.get(k) ?? s.byFold.get(k.toLowerCase());
    if (f === undefined) {
      out[k] = o[k];
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(out, f.json)) delete out[f.json]; // re-insert: last one wins
    out[f.json] = canonValue(o[k], f.t);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding (json.Marshal of the typed struct, unknown fields appended)

function isZero(v: unknown, t: GoType): boolean {
  // Structs, Quantity and IntOrString are never "empty" to omitempty: `"resources":{}` is always emitted.
  if (t.k === 'struct' || t.k === 'quantity' || t.k === 'intstr') return false;
  if (v === null || v === undefined) return true;
  // A value of the wrong JSON type is never "zero", so the writer sees (and flags) it.
  switch (t.k) {
    case 'str':
      return v === '';
    case 'bool':
      return v === false;
    case 'int':
      // `-0` is Go's zero too (it parses the text)
      return v === 0 || (v instanceof GoNumber && goIntOf(v, t.range as GoIntRange) === 0n);
    case 'slice':
      return Array.isArray(v) && v.length === 0;
    case 'map':
      return isPlainObject(v) && Object.keys(v).length === 0;
  }
  return false;
}

const isPlainObject = isJsonObject;

/**
 * Set by the writer when a value does not have its Go type (or a key matches a field only case-insensitively):
 * the single-pass path then falls back to checkPodTypes for Go's exact message, or to canonicalisation.
 */
let writeBad = false;

/**
 * The encoder appends to one accumulator string. V8 keeps it as a rope and flattens it once, when the bytes are
 * needed (base64 for the response): cheaper than `join` at every level or one `join` over a thousand parts.
 */
export interface Out {
  s: string;
}

function writeValue(out: Out, v: unknown, t: GoType): void {
  switch (t.k) {
    case 'str':
      if (typeof v === 'string') out.s += goString(v);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '""';
      }
      return;
    case 'bool':
      if (typeof v !== 'boolean' && v !== null && v !== undefined) writeBad = true;
      out.s += v === true ? 'true' : 'false';
      return;
    case 'int':
      if (typeof v === 'number') {
        noteNumber(v);
        if (!isGoInt(v, t.range as GoIntRange)) writeBad = true;
        out.s += String(v);
      } else if (v instanceof GoNumber) out.s += goIntText(v, t.range as GoIntRange);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '0';
      }
      return;
    case 'quantity':
      if (v === null || v === undefined) out.s += '"0"';
      else {
        if (typeof v === 'number') noteNumber(v);
        try {
          out.s += goString(goQuantityString(v));
        } catch {
          writeBad = true;
        }
      }
      return;
    case 'intstr':
      if (typeof v === 'string') out.s += goString(v);
      else if (typeof v === 'number') {
        noteNumber(v);
        if (!isGoInt(v, INT32_RANGE)) writeBad = true;
        out.s += String(v);
      } else if (v instanceof GoNumber) out.s += goIntText(v, INT32_RANGE);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '0';
      }
      return;
    case 'slice': {
      if (v === null || v === undefined) {
        out.s += 'null';
        return;
      }
      if (!Array.isArray(v)) {
        writeBad = true;
        return;
      }
      out.s += '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out.s += ',';
        writeValue(out, v[i], t.elem as GoType);
      }
      out.s += ']';
      return;
    }
    case 'map': {
      if (v === null || v === undefined) {
        out.s += 'null';
        return;
      }
      if (!isPlainObject(v)) {
        writeBad = true;
        return;
      }
      const keys = Object.keys(v).sort(goKeyCompare);
      out.s += '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        out.s += (i === 0 ? '' : ',') + goString(k) + ':';
        writeValue(out, v[k], t.elem as GoType);
      }
      out.s += '}';
      return;
    }
    case 'opaque':
      writeBad = true;
      return;
    case 'struct':
      if (v === null || v === undefined) writeStruct(out, {}, t.s as GoStruct);
      else if (isPlainObject(v)) writeStruct(out, v, t.s as GoStruct);
      else writeBad = true;
      return;
  }
}

/** Only meaningful for exact integers: anything else is noted as inexact and re-read losslessly. */
function isGoInt(v: number, range: GoIntRange): boolean {
  return Number.isInteger(v) && v >= range.lo && v < range.hi;
}

/** The value Go writes for a lossless number in an int field (`-0` → `0`); flags it when Go rejects it. */
function goIntText(v: GoNumber, range: GoIntRange): string {
  const n = goIntOf(v, range);
  if (n === undefined) {
    writeBad = true;
    return '0';
  }
  return n.toString();
}

/** Append one field of a struct being written (the part of writeStruct shared with the segment writer). */
function writeField(out: Out, f: GoField, v: unknown, first: boolean): boolean {
  if (f.ptr) {
    if (v === null || v === undefined) {
      if (f.omitempty) return first;
      out.s += (first ? f.key : f.ckey) + 'null';
      return false;
    }
  } else if (f.omitempty && isZero(v, f.t)) return first;
  out.s += first ? f.key : f.ckey;
  writeValue(out, v, f.t);
  return false;
}

/** Append the fields of `o` that `s` does not know, in input order. */
function writeUnknown(
  out: Out,
  o: Record<string, unknown>,
  s: GoStruct,
  first: boolean,
  keys: string[] = Object.keys(o),
): boolean {
  for (const k of keys) {
    if (s.byJson.has(k)) continue;
    if (s.byFold.has(k.toLowerCase())) writeBad = true; // Go would read it as a known field
    out.s += (first ? '' : ',') + goString(k) + ':' + goAny(o[k]);
    first = false;
  }
  return first;
}

/** Append the JSON of `o` as the Go struct `s` would marshal it, then the fields `s` does not know. */
export function writeStruct(out: Out, o: Record<string, unknown>, s: GoStruct): void {
  out.s += '{';
  let first = true;
  let found = 0;
  const fields = s.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as GoField;
    const v = o[f.json];
    if (v !== undefined) found++;
    first = writeField(out, f, v, first);
  }
  const keys = Object.keys(o);
  // Every own key was a field: nothing unknown to append (the usual case).
  if (!s.countable || keys.length !== found) writeUnknown(out, o, s, first, keys);
  out.s += '}';
}

/**
 * A container encoded once, in pieces, so the mutation can splice its env entries and volume mount in without
 * re-encoding: `pre` + `,"env":[env…]` + `mid` + `,"volumeMounts":[mounts…]` + `post`. `name` is never omitted
 * and comes first, so every later field starts with a comma.
 */
export interface ContainerSegments {
  pre: string;
  env: string;
  envCount: number;
  mid: string;
  mounts: string;
  mountCount: number;
  post: string;
}

function writeItems(out: Out, v: unknown, elem: GoType): number {
  if (v === null || v === undefined) return 0;
  if (!Array.isArray(v)) {
    writeBad = true;
    return 0;
  }
  for (let i = 0; i < v.length; i++) {
    if (i > 0) out.s += ',';
    writeValue(out, v[i], elem);
  }
  return v.length;
}

const ENV_FIELD = 'env';
const ENV_T = ST(EnvVar);
const MOUNT_T = ST(VolumeMount);
const MOUNTS_FIELD = 'volumeMounts';

/**
 * Type-check and encode a decoded container in one pass. Undefined when any value does not have its Go type
 * (or a key only case-folds to a field): the caller then takes the two-pass path for Go's exact error.
 */
export function containerSegments(c: unknown): ContainerSegments | undefined {
  if (!isPlainObject(c)) return c === null ? containerSegments({}) : undefined;
  writeBad = false;
  const pre: Out = { s: '{' };
  const env: Out = { s: '' };
  const mid: Out = { s: '' };
  const mounts: Out = { s: '' };
  const post: Out = { s: '' };
  let cur = pre;
  let first = true;
  let envCount = 0;
  let mountCount = 0;
  let found = 0;
  for (const f of Container.fields) {
    const v = c[f.json];
    if (v !== undefined) found++;
    if (f.json === ENV_FIELD) {
      envCount = writeItems(env, v, ENV_T);
      cur = mid;
      continue;
    }
    if (f.json === MOUNTS_FIELD) {
      mountCount = writeItems(mounts, v, MOUNT_T);
      cur = post;
      continue;
    }
    first = writeField(cur, f, v, first);
  }
  const keys = Object.keys(c);
  if (!Container.countable || keys.length !== found) writeUnknown(post, c, Container, first, keys);
  post.s += '}';
  if (writeBad) return undefined;
  return { pre: pre.s, env: env.s, envCount, mid: mid.s, mounts: mounts.s, mountCount, post: post.s };
}

export function encodeStruct(o: Record<string, unknown>, s: GoStruct): string {
  const out: Out = { s: '' };
  writeStruct(out, o, s);
  return out.s;
}

export function writeContainer(out: Out, c: Record<string, unknown>): void {
  writeStruct(out, c, Container);
}

export function encodeContainer(c: Record<string, unknown>): string {
  return encodeStruct(c, Container);
}

/** For the conformance report: is `key` a field of the Go struct reached by `path` from Container? */
export function structAt(root: GoStruct, path: readonly string[]): GoStruct | undefined {
  let s: GoStruct | undefined = root;
  for (const key of path) {
    if (s === undefined) return undefined;
    const f: GoField | undefined = s.byJson.get(key);
    if (f === undefined) return undefined;
    let t: GoType = f.t;
    while (t.k === 'slice' || t.k === 'map') t = t.elem as GoType;
    s = t.k === 'struct' ? (t.s as GoStruct) : undefined;
  }
  return s;
}
