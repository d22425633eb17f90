/**
 * The Kubernetes type table: the Go structs of k8s.io/api core/v1 @ v0.36.0 the webhook reads or re-serialises
 * (Container and everything below it, plus the Pod fields we read), with their JSON names, field order, pointer and
 * omitempty tags. The encoder (encode.ts) and the type check (type-check.ts) both walk it, so the two agree on
 * what a field is.
 */
import { INT32_RANGE, INT64_RANGE, type GoIntRange } from './number.js';

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
/** The Go type of a struct of the table (`v1.<name>`). */
export const structType = (s: GoStruct): GoType => mkType('struct', 'v1.' + s.name, s, null);
const ST = structType;
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
export const PodShallow = struct(
  'Pod',
  Pod.fields.map(
    (f) => [f.json, f.json === 'spec' ? ST(PodSpecShallow) : f.t, f.omitempty ? 'o' : ''] as FieldSpec,
  ),
  true,
);

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
