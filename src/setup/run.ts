/**
 * The thin shell of `openirsa setup`: reads what exists in IAM (through @aws-sdk/client-iam, so real AWS,
 * openirsa's local IAM or any IAM-compatible endpoint via AWS_ENDPOINT_URL_IAM) and in Kubernetes, and runs the
 * actions a planner chose, one by one. Decisions are in plan.ts.
 */
import {
  IAMClient,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  ListRolesCommand,
  type ListRolesCommandOutput,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  GetRolePolicyCommand,
  CreateOpenIDConnectProviderCommand,
  AddClientIDToOpenIDConnectProviderCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
  DeleteOpenIDConnectProviderCommand,
  CreateRoleCommand,
  UpdateAssumeRolePolicyCommand,
  AttachRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePolicyCommand,
  DeleteRolePolicyCommand,
  DeleteRoleCommand,
  type ListRolePoliciesCommandOutput,
  type ListAttachedRolePoliciesCommandOutput,
} from '@aws-sdk/client-iam';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import {
  isOurs,
  providerArnOf,
  trustsProvider,
  type Action,
  type Observed,
  type ObservedRole,
  type Phase,
  type SetupSpec,
  type Step,
  type TrustPolicy,
} from './plan.js';
import { awsErrorText, isNoSuchEntity } from '../aws/sdk.js';
import { decodePolicyText } from '../iam/policy.js';
import { kubeErrorText, kubeStatusOf } from '../kube/client-errors.js';
import { OpenIrsaError, type SetupErrorCode } from '../errors.js';

export class SetupError extends OpenIrsaError {
  constructor(code: SetupErrorCode, message: string) {
    super(code, message);
  }
}

export interface SetupClients {
  iam?: IAMClient;
  core?: CoreV1Api;
}

export function makeKubeClient(kc: KubeConfig): CoreV1Api {
  return kc.makeApiClient(CoreV1Api);
}

async function observeRole(iam: IAMClient, roleName: string): Promise<ObservedRole | undefined> {
  let role;
  try {
    role = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
  } catch (err) {
    if (isNoSuchEntity(err)) return undefined;
    throw err;
  }
  if (!role) return undefined;
  const attached: string[] = [];
  let marker: string | undefined;
  do {
    const r: ListAttachedRolePoliciesCommandOutput = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }),
    );
    attached.push(...(r.AttachedPolicies ?? []).map((p) => p.PolicyArn!));
    marker = r.IsTruncated ? r.Marker : undefined;
  } while (marker);
  const inline: Record<string, string> = {};
  marker = undefined;
  do {
    const r: ListRolePoliciesCommandOutput = await iam.send(
      new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }),
    );
    for (const name of r.PolicyNames ?? []) {
      const p = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
      inline[name] = decodePolicyText(p.PolicyDocument ?? '{}');
    }
    marker = r.IsTruncated ? r.Marker : undefined;
  } while (marker);
  return {
    arn: role.Arn!,
    trustPolicy: JSON.parse(
      decodePolicyText(role.AssumeRolePolicyDocument ?? '{"Statement":[]}'),
    ) as TrustPolicy,
    tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
    attachedPolicyArns: attached,
    inlinePolicies: inline,
  };
}

/** What exists now, for the phases asked. A read that fails is an error (never taken as "absent"). */
/** The account's roles whose trust policy names the provider (for delete; the planner sets aside the role it handles). */
async function rolesTrusting(iam: IAMClient, providerArn: string): Promise<string[]> {
  const found: string[] = [];
  let marker: string | undefined;
  do {
    const r: ListRolesCommandOutput = await iam.send(new ListRolesCommand({ Marker: marker }));
    for (const role of r.Roles ?? []) {
      if (!role.Arn) continue;
      const text = decodePolicyText(role.AssumeRolePolicyDocument ?? '{"Statement":[]}');
      let trusts: boolean;
      try {
        trusts = trustsProvider(JSON.parse(text) as TrustPolicy, providerArn);
      } catch {
        trusts = text.includes(providerArn); // unreadable: assume it may, so the provider stays
      }
      if (trusts) found.push(role.Arn);
    }
    marker = r.IsTruncated ? r.Marker : undefined;
  } while (marker);
  return found;
}

export async function observe(
  spec: SetupSpec,
  clients: SetupClients,
  phases: readonly Phase[],
  purpose: 'setup' | 'delete' = 'setup',
): Promise<Observed> {
  const observed: Observed = {};
  const needsIam = phases.includes('provider') || phases.includes('role');
  if (needsIam && !clients.iam) throw new SetupError('ClientMissing', 'no IAM client');
  try {
    if (phases.includes('provider')) {
      const arn = providerArnOf(spec);
      try {
        const p = await clients.iam!.send(
          new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
        );
        observed.provider = {
          arn,
          clientIds: p.ClientIDList ?? [],
          thumbprints: p.ThumbprintList ?? [],
          tags: Object.fromEntries((p.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
        };
      } catch (err) {
        if (!isNoSuchEntity(err)) throw err;
      }
    }
    if (phases.includes('role')) observed.role = await observeRole(clients.iam!, spec.roleName);
    // Only a provider setup created may be deleted, so only then is the account's list of roles worth reading.
    if (purpose === 'delete' && observed.provider && isOurs(observed.provider.tags))
      observed.rolesTrustingProvider = await rolesTrusting(clients.iam!, observed.provider.arn);
  } catch (err) {
    if (err instanceof SetupError) throw err;
    throw new SetupError('IamFailed', `reading IAM: ${awsErrorText(err)}`);
  }
  if (phases.includes('serviceaccount')) {
    if (!clients.core) throw new SetupError('ClientMissing', 'no Kubernetes client');
    try {
      const sa = await clients.core.readNamespacedServiceAccount({
        namespace: spec.namespace,
        name: spec.serviceAccount,
      });
      observed.serviceAccount = {
        annotations: sa.metadata?.annotations ?? {},
        labels: sa.metadata?.labels ?? {},
      };
    } catch (err) {
      if (kubeStatusOf(err) !== 404) {
        throw new SetupError(
          'KubernetesFailed',
          `reading ServiceAccount ${spec.namespace}/${spec.serviceAccount}: ${kubeErrorText(err)}`,
        );
      }
    }
  }
  return observed;
}

const IAM_COMMANDS = {
  CreateOpenIDConnectProvider: CreateOpenIDConnectProviderCommand,
  AddClientIDToOpenIDConnectProvider: AddClientIDToOpenIDConnectProviderCommand,
  UpdateOpenIDConnectProviderThumbprint: UpdateOpenIDConnectProviderThumbprintCommand,
  DeleteOpenIDConnectProvider: DeleteOpenIDConnectProviderCommand,
  CreateRole: CreateRoleCommand,
  UpdateAssumeRolePolicy: UpdateAssumeRolePolicyCommand,
  AttachRolePolicy: AttachRolePolicyCommand,
  DetachRolePolicy: DetachRolePolicyCommand,
  PutRolePolicy: PutRolePolicyCommand,
  DeleteRolePolicy: DeleteRolePolicyCommand,
  DeleteRole: DeleteRoleCommand,
} as const;

async function runAction(a: Action, clients: SetupClients): Promise<void> {
  if (a.api === 'iam') {
    const Command = IAM_COMMANDS[a.action] as unknown as new (
      input: unknown,
    ) => Parameters<IAMClient['send']>[0];
    try {
      await clients.iam!.send(new Command(a.input));
    } catch (err) {
      throw new SetupError('IamFailed', `${a.action}: ${awsErrorText(err)}`);
    }
    return;
  }
  const core = clients.core!;
  const { namespace, name } = a.input;
  try {
    switch (a.action) {
      case 'CreateServiceAccount':
        await core.createNamespacedServiceAccount({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name, namespace, annotations: a.input.annotations, labels: a.input.labels },
          },
        });
        return;
      case 'PatchServiceAccountAnnotations':
        await core.patchNamespacedServiceAccount(
          { namespace, name, body: { metadata: { annotations: a.input.annotations } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      case 'DeleteServiceAccount':
        await core.deleteNamespacedServiceAccount({ namespace, name });
        return;
    }
  } catch (err) {
    throw new SetupError('KubernetesFailed', `${a.action} ${namespace}/${name}: ${kubeErrorText(err)}`);
  }
}

/**
 * Runs the steps in order, each step's actions in order; stops at the first failure (what ran stays: a second
 * run plans from what exists, so it finishes the job). `onStep` sees each step when it is done.
 */
export async function execute(
  steps: Step[],
  clients: SetupClients,
  onStep: (s: Step) => void = () => {},
): Promise<void> {
  for (const s of steps) {
    for (const a of s.actions) await runAction(a, clients);
    onStep(s);
  }
}
