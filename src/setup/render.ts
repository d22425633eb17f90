/**
 * A setup plan shown as something another tool runs instead of openirsa: AWS CLI + kubectl commands (the plan's
 * actions, one command each), a Terraform configuration or a CloudFormation template (the end state, with the
 * resources that already exist marked for import so that nothing others added is dropped), or JSON. Pure.
 */
import { shellQuote } from '../escape.js';
import { stringify } from 'yaml';
import {
  CREATED_BY_KEY,
  CREATED_BY_VALUE,
  mergedTrustPolicy,
  providerArnOf,
  roleArnOf,
  statementsOf,
  trustStatementOf,
  type Action,
  type Observed,
  type SetupSpec,
  type Step,
} from './plan.js';
import { OpenIrsaError } from '../errors.js';

export const RENDER_FORMATS = ['aws-cli', 'terraform', 'cloudformation', 'json'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

export interface RenderInput {
  spec: SetupSpec;
  observed: Observed;
  steps: Step[];
  /** A delete plan: only aws-cli and json can show one (the others describe an end state). */
  deleting?: boolean;
}

export { shellQuote };

const CLI_COMMAND: Record<string, string> = {
  CreateOpenIDConnectProvider: 'create-open-id-connect-provider',
  AddClientIDToOpenIDConnectProvider: 'add-client-id-to-open-id-connect-provider',
  UpdateOpenIDConnectProviderThumbprint: 'update-open-id-connect-provider-thumbprint',
  DeleteOpenIDConnectProvider: 'delete-open-id-connect-provider',
  CreateRole: 'create-role',
  UpdateAssumeRolePolicy: 'update-assume-role-policy',
  AttachRolePolicy: 'attach-role-policy',
  DetachRolePolicy: 'detach-role-policy',
  PutRolePolicy: 'put-role-policy',
  DeleteRolePolicy: 'delete-role-policy',
  DeleteRole: 'delete-role',
};
// botocore's names for the parameters (xform_name): ClientIDList → client-id-list, and so on.
const CLI_FLAG: Record<string, string> = {
  Url: 'url',
  ClientIDList: 'client-id-list',
  ThumbprintList: 'thumbprint-list',
  Tags: 'tags',
  OpenIDConnectProviderArn: 'open-id-connect-provider-arn',
  ClientID: 'client-id',
  RoleName: 'role-name',
  Path: 'path',
  AssumeRolePolicyDocument: 'assume-role-policy-document',
  Description: 'description',
  PolicyDocument: 'policy-document',
  PolicyArn: 'policy-arn',
  PolicyName: 'policy-name',
};

function awsCommand(a: Extract<Action, { api: 'iam' }>): string {
  const parts = ['aws', 'iam', CLI_COMMAND[a.action]!];
  for (const [k, v] of Object.entries(a.input)) {
    if (Array.isArray(v)) {
      if (v.length === 0) continue;
      parts.push(`--${CLI_FLAG[k]!}`);
      // Tags are structures: JSON is the CLI's unambiguous form for them.
      if (k === 'Tags') parts.push(shellQuote(JSON.stringify(v)));
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- every other list is of strings
      else parts.push(...v.map((x) => shellQuote(String(x))));
    } else parts.push(`--${CLI_FLAG[k]!}`, shellQuote(String(v)));
  }
  return parts.join(' ');
}

function kubectlCommands(a: Extract<Action, { api: 'kubernetes' }>): string[] {
  const ref = `serviceaccount -n ${shellQuote(a.input.namespace)} ${shellQuote(a.input.name)}`;
  switch (a.action) {
    case 'CreateServiceAccount':
      return [
        `kubectl create ${ref}`,
        `kubectl label ${ref} ${Object.entries(a.input.labels)
          .map(([k, v]) => shellQuote(`${k}=${v}`))
          .join(' ')}`,
        `kubectl annotate ${ref} ${Object.entries(a.input.annotations)
          .map(([k, v]) => shellQuote(`${k}=${v}`))
          .join(' ')}`,
      ];
    case 'PatchServiceAccountAnnotations':
      return [
        `kubectl annotate --overwrite ${ref} ${Object.entries(a.input.annotations)
          .map(([k, v]) => shellQuote(v === null ? `${k}-` : `${k}=${v}`))
          .join(' ')}`,
      ];
    case 'DeleteServiceAccount':
      return [`kubectl delete ${ref}`];
  }
}

export function renderAwsCli(input: RenderInput): string {
  const lines = [
    '#!/bin/sh',
    `# openirsa setup${input.deleting ? ' delete' : ''} --dry-run: IRSA for ${input.spec.namespace}/${input.spec.serviceAccount}, issuer ${input.spec.issuer}`,
    'set -e',
  ];
  for (const s of input.steps) {
    lines.push('', `# ${s.phase}: ${s.resource}: ${s.status} (${s.detail})`);
    for (const a of s.actions) {
      if (a.api === 'iam') lines.push(awsCommand(a));
      else lines.push(...kubectlCommands(a));
    }
  }
  return lines.join('\n') + '\n';
}

/** An HCL quoted string: JSON's escapes, plus HCL's template sequences ${ and %{ doubled. */
export function hclString(s: string): string {
  return JSON.stringify(s).replace(/([$%])\{/g, (_m, c: string) => `${c}${c}{`);
}
const hclList = (xs: string[]): string => `[${xs.map(hclString).join(', ')}]`;
function hclMap(m: Record<string, string>, indent: string): string {
  const entries = Object.entries(m);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${indent}  ${hclString(k)} = ${hclString(v)}`).join('\n')}\n${indent}}`;
}
/** A Terraform resource name from free text: letters, digits, _ and -, starting with a letter or _. */
const tfName = (s: string): string => `p_${s.replace(/[^A-Za-z0-9_-]/g, '_')}`;

const has = (steps: Step[], phase: string): Step | undefined => steps.find((s) => s.phase === phase);

export function renderTerraform(input: RenderInput): string {
  const { spec, observed, steps } = input;
  if (input.deleting)
    throw new RenderError(
      'terraform describes an end state: delete with `terraform destroy`, or use -o aws-cli|json',
    );
  const out: string[] = [
    `# openirsa setup --dry-run -o terraform: IRSA for ${spec.namespace}/${spec.serviceAccount}, issuer ${spec.issuer}`,
    '# Resources that already exist have an import block: `terraform plan` then shows only what setup would change.',
    'terraform {',
    '  required_version = ">= 1.5.0"',
    '  required_providers {',
    '    aws = {',
    '      source = "hashicorp/aws"',
    '    }',
    ...(has(steps, 'serviceaccount')
      ? ['    kubernetes = {', '      source = "hashicorp/kubernetes"', '    }']
      : []),
    '  }',
    '}',
  ];
  const tags = { [CREATED_BY_KEY]: CREATED_BY_VALUE };
  let providerRef = hclString(providerArnOf(spec));
  const provider = has(steps, 'provider');
  if (provider) {
    const p = observed.provider;
    const clientIds = [...(p?.clientIds ?? [])];
    if (!clientIds.includes(spec.audience)) clientIds.push(spec.audience);
    const thumbs = [...(p?.thumbprints ?? [])];
    for (const t of spec.thumbprints)
      if (!thumbs.some((x) => x.toLowerCase() === t.toLowerCase())) thumbs.push(t);
    out.push(
      '',
      'resource "aws_iam_openid_connect_provider" "issuer" {',
      `  url             = ${hclString(spec.issuer)}`,
      `  client_id_list  = ${hclList(clientIds)}`,
      `  thumbprint_list = ${hclList(thumbs)}`,
      `  tags            = ${hclMap(p ? p.tags : tags, '  ')}`,
      '}',
    );
    if (p)
      out.push(
        '',
        'import {',
        '  to = aws_iam_openid_connect_provider.issuer',
        `  id = ${hclString(p.arn)}`,
        '}',
      );
    providerRef = 'aws_iam_openid_connect_provider.issuer.arn';
  }
  const role = has(steps, 'role');
  let roleArnRef = hclString(roleArnOf(spec));
  if (role) {
    const r = observed.role;
    const ours = trustStatementOf(spec);
    const others = statementsOf(r?.trustPolicy).filter((s) => s.Sid !== ours.Sid);
    out.push('', 'data "aws_iam_policy_document" "trust" {');
    if (others.length > 0) {
      out.push(
        '  # the statements the role already has, kept as they are',
        `  source_policy_documents = [${hclString(JSON.stringify({ Version: '2012-10-17', Statement: others }))}]`,
      );
    }
    out.push(
      '  statement {',
      `    sid     = ${hclString(ours.Sid!)}`,
      '    effect  = "Allow"',
      '    actions = ["sts:AssumeRoleWithWebIdentity"]',
      '    principals {',
      '      type        = "Federated"',
      `      identifiers = [${providerRef}]`,
      '    }',
    );
    for (const [test, kv] of Object.entries(ours.Condition ?? {})) {
      for (const [variable, value] of Object.entries(kv)) {
        out.push(
          '    condition {',
          `      test     = ${hclString(test)}`,
          `      variable = ${hclString(variable)}`,
          `      values   = ${hclList([String(value)])}`,
          '    }',
        );
      }
    }
    out.push('  }', '}');
    out.push(
      '',
      'resource "aws_iam_role" "irsa" {',
      `  name               = ${hclString(spec.roleName)}`,
      `  path               = ${hclString(spec.rolePath)}`,
      '  assume_role_policy = data.aws_iam_policy_document.trust.json',
      `  tags               = ${hclMap(r ? r.tags : tags, '  ')}`,
      '}',
    );
    if (r) out.push('', 'import {', '  to = aws_iam_role.irsa', `  id = ${hclString(spec.roleName)}`, '}');
    for (const arn of spec.policyArns) {
      const name = tfName(arn.split(':').pop()!);
      out.push(
        '',
        `resource "aws_iam_role_policy_attachment" ${hclString(name)} {`,
        '  role       = aws_iam_role.irsa.name',
        `  policy_arn = ${hclString(arn)}`,
        '}',
      );
      if (r?.attachedPolicyArns.includes(arn)) {
        out.push(
          '',
          'import {',
          `  to = aws_iam_role_policy_attachment.${name}`,
          `  id = ${hclString(`${spec.roleName}/${arn}`)}`,
          '}',
        );
      }
    }
    for (const p of spec.inlinePolicies) {
      const name = tfName(p.name);
      out.push(
        '',
        `resource "aws_iam_role_policy" ${hclString(name)} {`,
        `  name   = ${hclString(p.name)}`,
        '  role   = aws_iam_role.irsa.name',
        `  policy = ${hclString(JSON.stringify(JSON.parse(p.document)))}`,
        '}',
      );
      if (r && r.inlinePolicies[p.name] !== undefined) {
        out.push(
          '',
          'import {',
          `  to = aws_iam_role_policy.${name}`,
          `  id = ${hclString(`${spec.roleName}:${p.name}`)}`,
          '}',
        );
      }
    }
    roleArnRef = 'aws_iam_role.irsa.arn';
  }
  const sa = has(steps, 'serviceaccount');
  if (sa) {
    const key = `${spec.annotationPrefix}/role-arn`;
    if (sa.existed) {
      out.push(
        '',
        '# the ServiceAccount exists: only its annotation is managed',
        'resource "kubernetes_annotations" "irsa" {',
        '  api_version = "v1"',
        '  kind        = "ServiceAccount"',
        '  metadata {',
        `    name      = ${hclString(spec.serviceAccount)}`,
        `    namespace = ${hclString(spec.namespace)}`,
        '  }',
        '  annotations = {',
        `    ${hclString(key)} = ${roleArnRef}`,
        '  }',
        '}',
      );
    } else {
      out.push(
        '',
        'resource "kubernetes_service_account_v1" "irsa" {',
        '  metadata {',
        `    name      = ${hclString(spec.serviceAccount)}`,
        `    namespace = ${hclString(spec.namespace)}`,
        '    annotations = {',
        `      ${hclString(key)} = ${roleArnRef}`,
        '    }',
        '    labels = {',
        `      ${hclString(CREATED_BY_KEY)} = ${hclString(CREATED_BY_VALUE)}`,
        '    }',
        '  }',
        '}',
      );
    }
  }
  if (role) out.push('', 'output "role_arn" {', '  value = aws_iam_role.irsa.arn', '}');
  return out.join('\n') + '\n';
}

export class RenderError extends OpenIrsaError {
  constructor(message: string) {
    super('RenderUnsupported', message);
  }
}

export function renderCloudFormation(input: RenderInput): string {
  const { spec, observed, steps } = input;
  if (input.deleting)
    throw new RenderError('cloudformation describes an end state: delete the stack, or use -o aws-cli|json');
  const resources: Record<string, unknown> = {};
  const imports: Array<{
    LogicalResourceId: string;
    ResourceType: string;
    ResourceIdentifier: Record<string, string>;
  }> = [];
  const tags = [{ Key: CREATED_BY_KEY, Value: CREATED_BY_VALUE }];
  const tagList = (m: Record<string, string> | undefined) =>
    m ? Object.entries(m).map(([Key, Value]) => ({ Key, Value })) : tags;
  // Resources to import must say what happens when the stack goes: keep them (CloudFormation requires a policy).
  const retain = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
  let providerArn: unknown = providerArnOf(spec);
  if (has(steps, 'provider')) {
    const p = observed.provider;
    const clientIds = [...(p?.clientIds ?? [])];
    if (!clientIds.includes(spec.audience)) clientIds.push(spec.audience);
    const thumbs = [...(p?.thumbprints ?? [])];
    for (const t of spec.thumbprints)
      if (!thumbs.some((x) => x.toLowerCase() === t.toLowerCase())) thumbs.push(t);
    resources.IrsaOidcProvider = {
      Type: 'AWS::IAM::OIDCProvider',
      ...(p ? retain : {}),
      Properties: {
        Url: spec.issuer,
        ClientIdList: clientIds,
        ...(thumbs.length ? { ThumbprintList: thumbs } : {}),
        Tags: tagList(p?.tags),
      },
    };
    if (p)
      imports.push({
        LogicalResourceId: 'IrsaOidcProvider',
        ResourceType: 'AWS::IAM::OIDCProvider',
        ResourceIdentifier: { Arn: p.arn },
      });
    providerArn = { Ref: 'IrsaOidcProvider' };
  }
  let roleArn: unknown = roleArnOf(spec);
  if (has(steps, 'role')) {
    const r = observed.role;
    const trust = mergedTrustPolicy(spec, r?.trustPolicy);
    const ourSid = trustStatementOf(spec).Sid;
    const statements = statementsOf(trust).map((s) =>
      s.Sid === ourSid ? { ...s, Principal: { Federated: providerArn } } : s,
    );
    resources.IrsaRole = {
      Type: 'AWS::IAM::Role',
      ...(r ? retain : {}),
      Properties: {
        RoleName: spec.roleName,
        Path: spec.rolePath,
        AssumeRolePolicyDocument: { ...trust, Statement: statements },
        ...(spec.policyArns.length || r?.attachedPolicyArns.length
          ? { ManagedPolicyArns: [...new Set([...(r?.attachedPolicyArns ?? []), ...spec.policyArns])] }
          : {}),
        ...(spec.inlinePolicies.length
          ? {
              Policies: spec.inlinePolicies.map((p) => ({
                PolicyName: p.name,
                PolicyDocument: JSON.parse(p.document) as unknown,
              })),
            }
          : {}),
        Tags: tagList(r?.tags),
      },
    };
    if (r)
      imports.push({
        LogicalResourceId: 'IrsaRole',
        ResourceType: 'AWS::IAM::Role',
        ResourceIdentifier: { RoleName: spec.roleName },
      });
    roleArn = { 'Fn::GetAtt': ['IrsaRole', 'Arn'] };
  }
  const template: Record<string, unknown> = {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `openirsa setup: IRSA for ${spec.namespace}/${spec.serviceAccount}, issuer ${spec.issuer}`,
  };
  const meta: Record<string, unknown> = {};
  if (imports.length) meta.ImportResources = imports;
  const sa = has(steps, 'serviceaccount');
  if (sa) {
    // CloudFormation has no Kubernetes resource: the ServiceAccount step stays a kubectl command.
    meta.ServiceAccount = [
      ...(sa.existed ? [] : [`kubectl create serviceaccount -n ${spec.namespace} ${spec.serviceAccount}`]),
      `kubectl annotate --overwrite serviceaccount -n ${spec.namespace} ${spec.serviceAccount} ${spec.annotationPrefix}/role-arn=${roleArnOf(spec)}`,
    ];
  }
  if (Object.keys(meta).length) template.Metadata = { Openirsa: meta };
  template.Resources = resources;
  if (resources.IrsaRole) template.Outputs = { RoleArn: { Value: roleArn } };
  else if (Object.keys(resources).length === 0)
    throw new RenderError('nothing for CloudFormation: the phases asked have no IAM resource');
  return stringify(template, { lineWidth: 0, aliasDuplicateObjects: false });
}

export function renderJson(input: RenderInput): string {
  return JSON.stringify({ steps: input.steps }, null, 2) + '\n';
}

export function render(format: RenderFormat, input: RenderInput): string {
  switch (format) {
    case 'aws-cli':
      return renderAwsCli(input);
    case 'terraform':
      return renderTerraform(input);
    case 'cloudformation':
      return renderCloudFormation(input);
    case 'json':
      return renderJson(input);
  }
}
