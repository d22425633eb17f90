/** What to change, for the findings whose fix depends on the value found. */
import { IamError, MalformedPolicyError, PolicySizeError } from '../errors.js';
import { isObject } from './statements.js';

const WEB_IDENTITY_STATEMENT =
  '{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"<issuer host/path>:sub": "system:serviceaccount:<namespace>:<serviceaccount>", "<issuer host/path>:aud": "sts.amazonaws.com"}}}';

/** What to change for each way IAM rejects a trust policy (policy.ts's messages), naming the element. */
export function invalidPolicyFix(p: IamError, doc: unknown): string {
  if (p instanceof PolicySizeError)
    return `shorten the document to at most ${p.limit} characters without whitespace (it has ${p.size}): merge statements, list values in one array; or ask AWS to raise ACLSizePerRole and lint with --max-size 4096`;
  const m = p.message;
  const d = (p instanceof MalformedPolicyError ? p.detail : undefined) ?? '';
  const field = /^Has prohibited field (\w+)\./.exec(m)?.[1];
  if (field === 'NotPrincipal')
    return 'replace "NotPrincipal" by "Principal": {"Federated": "<provider ARN>"}: trust policies name who may assume the role';
  if (field)
    return `remove "${field}" from the statement: a trust policy has no resources (the role itself is the resource)`;
  if (m.startsWith('Missing required field Principal'))
    return 'add "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}';
  if (m.startsWith('Policy statement must contain actions'))
    return 'add "Action": "sts:AssumeRoleWithWebIdentity"';
  if (
    m.startsWith('Actions/Conditions must be prefaced') ||
    m.startsWith('Actions/Condition can contain only one colon')
  )
    return d.startsWith('condition key')
      ? 'name the key with its issuer: "<issuer host/path>:sub" or "<issuer host/path>:aud" (or a global key such as "aws:SourceIp")'
      : 'write the action as service:Action, e.g. "sts:AssumeRoleWithWebIdentity"';
  if (m.startsWith('Vendor ')) return 'use the sts service: "sts:AssumeRoleWithWebIdentity"';
  if (m.startsWith('Federated principals must be valid domain names')) {
    const value = d.replace(/^"|"$/g, '');
    const id = value.replace(/^[a-z]+:\/\//i, '').replace(/^arn:[^:]*:iam::[^:]*:oidc-provider\//, '');
    return `use the IAM OIDC provider's ARN: "Federated": "arn:aws:iam::<account>:oidc-provider/${id || '<issuer host/path>'}"`;
  }
  if (m.startsWith('Invalid principal in policy'))
    return /OIDC provider belongs under "Federated"/.test(d)
      ? 'move the provider ARN to "Principal": {"Federated": …}'
      : /unknown principal type/.test(d)
        ? 'use "Federated" for an OIDC provider (the other types are AWS, Service and CanonicalUser)'
        : 'for IRSA trust the provider: "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}; an AWS principal is a 12-digit account id or an IAM role/user ARN';
  if (m.startsWith('Invalid Condition type'))
    return 'use a condition operator IAM knows: "StringEquals" for exact values, "StringLike" for wildcards';
  if (m.startsWith('Statement IDs (SID)')) return 'give each statement its own Sid, or remove the Sids';
  if (m.startsWith('The policy failed legacy parsing'))
    return 'write "Effect": "Allow" or "Deny" exactly (case-sensitive)';
  if (m.startsWith('Policy document should not specify a principal'))
    return "this is a permission policy element: a trust policy is the role's AssumeRolePolicyDocument";
  const name = /^(?:unknown (?:top-level|statement) element) "([^"]+)"/.exec(d)?.[1];
  if (name)
    return `remove "${name}" (or fix its spelling: Version, Statement, Sid, Effect, Principal, Action, Condition)`;
  if (/^Version must be/.test(d)) return 'set "Version": "2012-10-17"';
  if (/^Id must be/.test(d)) return 'make "Id" a string, or remove it';
  if (/^Sid must be/.test(d)) return 'make "Sid" a string, or remove it';
  if (/^missing Statement|^Statement is empty|^Statement must be/.test(d))
    return `write "Statement": [${WEB_IDENTITY_STATEMENT}]`;
  if (/^a statement must be a JSON object/.test(d))
    return `make the statement an object: ${WEB_IDENTITY_STATEMENT}`;
  if (/^missing Effect|^Effect must be/.test(d)) return 'set "Effect": "Allow" (or "Deny")';
  if (/both Principal and NotPrincipal/.test(d)) return 'remove "NotPrincipal"';
  if (/both Action and NotAction/.test(d))
    return 'remove "NotAction"; keep "Action": "sts:AssumeRoleWithWebIdentity"';
  if (/^Principal must be|^Principal is empty/.test(d))
    return 'write "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}';
  const list = /^([\w.]+) must be a string or an array of strings/.exec(d)?.[1];
  if (list)
    return `write ${list} as a string or an array of strings, e.g. ${list.startsWith('Principal') ? '"arn:aws:iam::<account>:oidc-provider/<issuer host/path>"' : '"sts:AssumeRoleWithWebIdentity"'}`;
  if (/^Condition must be|must map condition keys to values/.test(d))
    return 'write "Condition": {"StringEquals": {"<issuer host/path>:sub": "system:serviceaccount:<namespace>:<serviceaccount>"}}';
  if (/^condition values must be/.test(d))
    return 'write each condition value as a string, or an array of strings';
  if (/^Null takes|^Bool takes/.test(d)) return 'use the string "true" or "false"';
  if (/^the policy must be a JSON object/.test(d))
    return 'write the trust policy as one JSON object: {"Version": "2012-10-17", "Statement": [...]}';
  if (/^not valid JSON/.test(d)) return 'correct the JSON syntax at the position given';
  return `change ${p.path ?? 'the document'} as the message says${isObject(doc) ? '' : '; a trust policy is a JSON object'}`;
}

/** The fix for a :sub value that is not a ServiceAccount subject, with the namespace it names when it names one. */
export function subFix(v: string): string {
  const plural = /^system:serviceaccounts:([^:]+):(.+)$/.exec(v);
  if (plural)
    return `use "system:serviceaccount:${plural[1]}:${plural[2]}" (singular: "system:serviceaccounts:" names groups)`;
  const group = /^system:serviceaccounts:([^:]+)$/.exec(v);
  if (group)
    return `"system:serviceaccounts:${group[1]}" is the group of every ServiceAccount of ${group[1]}, never a token's sub: use "system:serviceaccount:${group[1]}:<serviceaccount>" (singular), or "system:serviceaccount:${group[1]}:*" with StringLike for all of them`;
  if (v === 'system:serviceaccounts')
    return 'name one ServiceAccount: "system:serviceaccount:<namespace>:<serviceaccount>" (the group of all of them is never a token\'s sub)';
  return 'use "system:serviceaccount:<namespace>:<serviceaccount>"';
}
