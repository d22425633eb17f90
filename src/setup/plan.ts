/**
 * `openirsa setup` as pure planners: the desired state (issuer, role, ServiceAccount) and what was observed in
 * IAM and Kubernetes go in; the steps to take come out, each a list of actions named and shaped exactly as the
 * IAM API's (and the Kubernetes API's) calls. Planning the observed result of a plan again gives only
 * "unchanged" steps; `planDelete` undoes what `planSetup` did and nothing else. No I/O, no clock.
 */
import { createHash } from 'node:crypto';
import { providerIdFromIssuer } from '../iam/arn.js';
import { lintTrustPolicy } from '../iam/lint/index.js';
import { OpenIrsaError, type SetupPlanErrorCode } from '../errors.js';

export const PHASES = ['issuer', 'provider', 'role', 'serviceaccount'] as const;
export type Phase = (typeof PHASES)[number];

/** The tag (IAM) and label (Kubernetes) setup puts on what it creates; delete removes only what carries it. */
export const CREATED_BY_KEY = 'openirsa.io/created-by';
export const CREATED_BY_VALUE = 'openirsa-setup';
export const DEFAULT_AUDIENCE = 'sts.amazonaws.com';
export const DEFAULT_ANNOTATION_PREFIX = 'eks.amazonaws.com';

export interface InlinePolicy {
  name: string;
  /** The policy document as JSON text. */
  document: string;
}

export interface SetupSpec {
  /** The issuer URL exactly as the tokens' iss (https://host[/path]). */
  issuer: string;
  accountId: string;
  partition: string;
  audience: string;
  /** Thumbprints the provider must list (none: AWS uses its own trust store for public CAs). */
  thumbprints: string[];
  namespace: string;
  serviceAccount: string;
  /** Trust every ServiceAccount of the namespace (StringLike on sub) instead of one. */
  namespaceWide: boolean;
  roleName: string;
  rolePath: string;
  policyArns: string[];
  inlinePolicies: InlinePolicy[];
  createServiceAccount: boolean;
  annotationPrefix: string;
}

export interface ObservedProvider {
  arn: string;
  clientIds: string[];
  thumbprints: string[];
  tags: Record<string, string>;
}
export interface ObservedRole {
  arn: string;
  /** The trust policy document (parsed JSON). */
  trustPolicy: TrustPolicy;
  tags: Record<string, string>;
  attachedPolicyArns: string[];
  /** Inline policies: name → document JSON text. */
  inlinePolicies: Record<string, string>;
}
export interface ObservedServiceAccount {
  annotations: Record<string, string>;
  labels: Record<string, string>;
}
export interface Observed {
  /** undefined: does not exist. */
  provider?: ObservedProvider;
  role?: ObservedRole;
  serviceAccount?: ObservedServiceAccount;
  /**
   * For delete: the ARNs of the account's roles whose trust policy names the provider as its Federated
   * principal. A provider setup created is shared by every role that trusts it, so it goes only when none does.
   */
  rolesTrustingProvider?: string[];
}

export interface TrustStatement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}
export interface TrustPolicy {
  Version?: string;
  Statement: TrustStatement[] | TrustStatement;
  [key: string]: unknown;
}

type Tags = Array<{ Key: string; Value: string }>;

/** One call, named and shaped as the API's own (the IAM Query API's parameters; Kubernetes' objects). */
export type Action =
  | {
      api: 'iam';
      action: 'CreateOpenIDConnectProvider';
      input: { Url: string; ClientIDList: string[]; ThumbprintList: string[]; Tags: Tags };
    }
  | {
      api: 'iam';
      action: 'AddClientIDToOpenIDConnectProvider';
      input: { OpenIDConnectProviderArn: string; ClientID: string };
    }
  | {
      api: 'iam';
      action: 'UpdateOpenIDConnectProviderThumbprint';
      input: { OpenIDConnectProviderArn: string; ThumbprintList: string[] };
    }
  | { api: 'iam'; action: 'DeleteOpenIDConnectProvider'; input: { OpenIDConnectProviderArn: string } }
  | {
      api: 'iam';
      action: 'CreateRole';
      input: {
        RoleName: string;
        Path: string;
        AssumeRolePolicyDocument: string;
        Description: string;
        Tags: Tags;
      };
    }
  | { api: 'iam'; action: 'UpdateAssumeRolePolicy'; input: { RoleName: string; PolicyDocument: string } }
  | { api: 'iam'; action: 'AttachRolePolicy'; input: { RoleName: string; PolicyArn: string } }
  | { api: 'iam'; action: 'DetachRolePolicy'; input: { RoleName: string; PolicyArn: string } }
  | {
      api: 'iam';
      action: 'PutRolePolicy';
      input: { RoleName: string; PolicyName: string; PolicyDocument: string };
    }
  | { api: 'iam'; action: 'DeleteRolePolicy'; input: { RoleName: string; PolicyName: string } }
  | { api: 'iam'; action: 'DeleteRole'; input: { RoleName: string } }
  | {
      api: 'kubernetes';
      action: 'CreateServiceAccount';
      input: {
        namespace: string;
        name: string;
        annotations: Record<string, string>;
        labels: Record<string, string>;
      };
    }
  | {
      api: 'kubernetes';
      action: 'PatchServiceAccountAnnotations';
      /** A JSON merge patch of metadata.annotations: null removes a key. */
      input: { namespace: string; name: string; annotations: Record<string, string | null> };
    }
  | { api: 'kubernetes'; action: 'DeleteServiceAccount'; input: { namespace: string; name: string } };

export type StepStatus = 'create' | 'update' | 'unchanged' | 'delete';

export interface Step {
  phase: Phase;
  /** What, where: "IAM OIDC provider arn:…", "role arn:…", "ServiceAccount ns/name". */
  resource: string;
  status: StepStatus;
  /** Why, in a few words (what is added, kept or left alone). */
  detail: string;
  actions: Action[];
  /** The state this step leaves (for renderers that describe the end state, e.g. Terraform). */
  existed: boolean;
}

export function providerArnOf(spec: Pick<SetupSpec, 'issuer' | 'accountId' | 'partition'>): string {
  return `arn:${spec.partition}:iam::${spec.accountId}:oidc-provider/${providerIdFromIssuer(spec.issuer)}`;
}

export function roleArnOf(
  spec: Pick<SetupSpec, 'roleName' | 'rolePath' | 'accountId' | 'partition'>,
): string {
  return `arn:${spec.partition}:iam::${spec.accountId}:role${spec.rolePath}${spec.roleName}`;
}

export function subjectOf(spec: Pick<SetupSpec, 'namespace' | 'serviceAccount' | 'namespaceWide'>): string {
  return `system:serviceaccount:${spec.namespace}:${spec.namespaceWide ? '*' : spec.serviceAccount}`;
}

/**
 * The statement's Sid names what it admits, so a later run (or delete) finds exactly its own statement among
 * others. IAM allows only [A-Za-z0-9] in a Sid: a hash of issuer + subject.
 */
export function statementSidOf(
  spec: Pick<SetupSpec, 'issuer' | 'namespace' | 'serviceAccount' | 'namespaceWide'>,
): string {
  const h = createHash('sha256')
    .update(`${spec.issuer}\n${subjectOf(spec)}`)
    .digest('hex');
  return `OpenirsaSetup${h.slice(0, 16)}`;
}

/** The trust statement for the ServiceAccount: StringEquals on sub and aud (StringLike on sub namespace-wide). */
export function trustStatementOf(spec: SetupSpec, providerArn = providerArnOf(spec)): TrustStatement {
  const id = providerIdFromIssuer(spec.issuer);
  const sub = { [`${id}:sub`]: subjectOf(spec) };
  const aud = { [`${id}:aud`]: spec.audience };
  return {
    Sid: statementSidOf(spec),
    Effect: 'Allow',
    Principal: { Federated: providerArn },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: spec.namespaceWide
      ? { StringEquals: aud, StringLike: sub }
      : { StringEquals: { ...sub, ...aud } },
  };
}

/** Whether any statement of the policy names the provider as its Federated principal. */
export function trustsProvider(policy: TrustPolicy | undefined, providerArn: string): boolean {
  return statementsOf(policy).some((st) => {
    const federated = (st.Principal as { Federated?: unknown } | undefined)?.Federated;
    return Array.isArray(federated) ? federated.includes(providerArn) : federated === providerArn;
  });
}

export function statementsOf(policy: TrustPolicy | undefined): TrustStatement[] {
  if (!policy) return [];
  return Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
}

/** Canonical JSON (sorted keys) for comparing documents whatever their key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const createdTags = (): Tags => [{ Key: CREATED_BY_KEY, Value: CREATED_BY_VALUE }];
export const isOurs = (tags: Record<string, string> | undefined): boolean =>
  tags?.[CREATED_BY_KEY] === CREATED_BY_VALUE;
export const roleAnnotationKey = (spec: Pick<SetupSpec, 'annotationPrefix'>): string =>
  `${spec.annotationPrefix}/role-arn`;

/** The trust policy a role must end with: its other statements kept, ours added or brought up to date. */
export function mergedTrustPolicy(spec: SetupSpec, existing: TrustPolicy | undefined): TrustPolicy {
  const ours = trustStatementOf(spec);
  const others = statementsOf(existing).filter((s) => s.Sid !== ours.Sid);
  return { Version: existing?.Version ?? '2012-10-17', Statement: [...others, ours] };
}

function planProvider(spec: SetupSpec, p: Observed['provider']): Step {
  const arn = providerArnOf(spec);
  const resource = `IAM OIDC provider ${arn}`;
  if (!p) {
    return {
      phase: 'provider',
      resource,
      status: 'create',
      detail: `client id ${spec.audience}${spec.thumbprints.length ? `, thumbprints ${spec.thumbprints.join(', ')}` : ''}`,
      existed: false,
      actions: [
        {
          api: 'iam',
          action: 'CreateOpenIDConnectProvider',
          input: {
            Url: spec.issuer,
            ClientIDList: [spec.audience],
            ThumbprintList: spec.thumbprints,
            Tags: createdTags(),
          },
        },
      ],
    };
  }
  const actions: Action[] = [];
  const added: string[] = [];
  if (!p.clientIds.includes(spec.audience)) {
    actions.push({
      api: 'iam',
      action: 'AddClientIDToOpenIDConnectProvider',
      input: { OpenIDConnectProviderArn: p.arn, ClientID: spec.audience },
    });
    added.push(`client id ${spec.audience}`);
  }
  const have = new Set(p.thumbprints.map((t) => t.toLowerCase()));
  const missing = spec.thumbprints.filter((t) => !have.has(t.toLowerCase()));
  if (missing.length > 0) {
    // Never drop what others put there: the new list is the old one plus ours (IAM keeps at most 5).
    actions.push({
      api: 'iam',
      action: 'UpdateOpenIDConnectProviderThumbprint',
      input: { OpenIDConnectProviderArn: p.arn, ThumbprintList: [...p.thumbprints, ...missing] },
    });
    added.push(`thumbprint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  return {
    phase: 'provider',
    resource,
    status: actions.length ? 'update' : 'unchanged',
    detail: actions.length
      ? `add ${added.join(' and ')}; other client ids and thumbprints kept`
      : `lists client id ${spec.audience}`,
    existed: true,
    actions,
  };
}

function planRole(spec: SetupSpec, r: Observed['role']): Step {
  const arn = roleArnOf(spec);
  const resource = `role ${arn}`;
  const trust = mergedTrustPolicy(spec, r?.trustPolicy);
  const trustText = JSON.stringify(trust);
  if (!r) {
    const actions: Action[] = [
      {
        api: 'iam',
        action: 'CreateRole',
        input: {
          RoleName: spec.roleName,
          Path: spec.rolePath,
          AssumeRolePolicyDocument: trustText,
          Description: `IRSA role for ${spec.namespace}/${spec.namespaceWide ? '*' : spec.serviceAccount} (openirsa setup)`,
          Tags: createdTags(),
        },
      },
      ...spec.policyArns.map((PolicyArn): Action => ({
        api: 'iam',
        action: 'AttachRolePolicy',
        input: { RoleName: spec.roleName, PolicyArn },
      })),
      ...spec.inlinePolicies.map((p): Action => ({
        api: 'iam',
        action: 'PutRolePolicy',
        input: { RoleName: spec.roleName, PolicyName: p.name, PolicyDocument: p.document },
      })),
    ];
    return {
      phase: 'role',
      resource,
      status: 'create',
      detail: `trusts ${subjectOf(spec)}${policySummary(spec)}`,
      existed: false,
      actions,
    };
  }
  const actions: Action[] = [];
  const changes: string[] = [];
  if (canonical(trust) !== canonical(r.trustPolicy)) {
    actions.push({
      api: 'iam',
      action: 'UpdateAssumeRolePolicy',
      input: { RoleName: spec.roleName, PolicyDocument: trustText },
    });
    changes.push(`trust statement for ${subjectOf(spec)} added, other statements kept`);
  }
  for (const PolicyArn of spec.policyArns.filter((a) => !r.attachedPolicyArns.includes(a))) {
    actions.push({ api: 'iam', action: 'AttachRolePolicy', input: { RoleName: spec.roleName, PolicyArn } });
    changes.push(`attach ${PolicyArn}`);
  }
  for (const p of spec.inlinePolicies) {
    const have = r.inlinePolicies[p.name];
    if (have !== undefined && sameJson(have, p.document)) continue;
    actions.push({
      api: 'iam',
      action: 'PutRolePolicy',
      input: { RoleName: spec.roleName, PolicyName: p.name, PolicyDocument: p.document },
    });
    changes.push(`${have === undefined ? 'put' : 'update'} inline policy ${p.name}`);
  }
  return {
    phase: 'role',
    resource,
    status: actions.length ? 'update' : 'unchanged',
    detail: actions.length ? changes.join('; ') : `trusts ${subjectOf(spec)}${policySummary(spec)}`,
    existed: true,
    actions,
  };
}

function sameJson(a: string, b: string): boolean {
  try {
    return canonical(JSON.parse(a)) === canonical(JSON.parse(b));
  } catch {
    return a === b;
  }
}

function policySummary(spec: SetupSpec): string {
  const n = spec.policyArns.length + spec.inlinePolicies.length;
  return n ? `, ${n} polic${n === 1 ? 'y' : 'ies'}` : '';
}

function planServiceAccount(spec: SetupSpec, sa: Observed['serviceAccount']): Step {
  const resource = `ServiceAccount ${spec.namespace}/${spec.serviceAccount}`;
  const key = roleAnnotationKey(spec);
  const arn = roleArnOf(spec);
  if (!sa) {
    if (!spec.createServiceAccount) {
      throw new SetupPlanError(
        'ServiceAccountMissing',
        `${resource} does not exist: create it, or pass --create-service-account`,
      );
    }
    return {
      phase: 'serviceaccount',
      resource,
      status: 'create',
      detail: `annotated ${key}=${arn}`,
      existed: false,
      actions: [
        {
          api: 'kubernetes',
          action: 'CreateServiceAccount',
          input: {
            namespace: spec.namespace,
            name: spec.serviceAccount,
            annotations: { [key]: arn },
            labels: { [CREATED_BY_KEY]: CREATED_BY_VALUE },
          },
        },
      ],
    };
  }
  if (sa.annotations[key] === arn) {
    return {
      phase: 'serviceaccount',
      resource,
      status: 'unchanged',
      detail: `annotated ${key}=${arn}`,
      existed: true,
      actions: [],
    };
  }
  const before = sa.annotations[key];
  return {
    phase: 'serviceaccount',
    resource,
    status: 'update',
    detail: `annotate ${key}=${arn}${before ? `, was ${before}` : ''}`,
    existed: true,
    actions: [
      {
        api: 'kubernetes',
        action: 'PatchServiceAccountAnnotations',
        input: { namespace: spec.namespace, name: spec.serviceAccount, annotations: { [key]: arn } },
      },
    ],
  };
}

export type { SetupPlanErrorCode } from '../errors.js';

export class SetupPlanError extends OpenIrsaError {
  constructor(code: SetupPlanErrorCode, message: string) {
    super(code, message);
  }
}

/** The steps that bring IAM and the cluster to `spec`, for the phases asked (issuer steps are the executor's). */
export function planSetup(spec: SetupSpec, observed: Observed, phases: readonly Phase[] = PHASES): Step[] {
  const steps: Step[] = [];
  if (phases.includes('role')) {
    // The statement setup writes is linted as `openirsa lint` would; an error refuses the whole plan.
    const errors = lintTrustPolicy(
      { Version: '2012-10-17', Statement: [trustStatementOf(spec)] },
      {
        context: {
          accountId: spec.accountId,
          partition: spec.partition,
          providers: [{ providerId: providerIdFromIssuer(spec.issuer), clientIds: [spec.audience] }],
        },
      },
    ).filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      throw new SetupPlanError(
        'TrustPolicyRefused',
        `the trust statement for ${subjectOf(spec)} fails lint: ${errors.map((e) => `${e.ruleId}: ${e.message}`).join('; ')}`,
      );
    }
  }
  if (phases.includes('provider')) steps.push(planProvider(spec, observed.provider));
  if (phases.includes('role')) steps.push(planRole(spec, observed.role));
  if (phases.includes('serviceaccount')) steps.push(planServiceAccount(spec, observed.serviceAccount));
  return steps;
}

/** One line per step, as the CLI prints them. */
export function formatStep(s: Step, dryRun = false): string {
  const verb: Record<StepStatus, string> = dryRun
    ? { create: 'would create', update: 'would update', delete: 'would delete', unchanged: 'unchanged' }
    : { create: 'created', update: 'updated', delete: 'deleted', unchanged: 'unchanged' };
  return `${s.phase.padEnd(14)} ${s.resource}: ${verb[s.status]} (${s.detail})`;
}
