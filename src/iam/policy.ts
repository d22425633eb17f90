/**
 * Policy documents: parse and validate as IAM does for role trust policies (`trust`) and identity/permission
 * policies (`identity`), into a normalised form the evaluator works on. Errors use IAM's
 * MalformedPolicyDocument wording (as IAM returns it from CreateRole / PutRolePolicy / CreatePolicy) plus the
 * JSON path and a precise detail.
 */
import type { Effect } from './types.js';
import { isAccountId, isPartition, isSamlProviderArn, parseOidcProviderArn, tryParseArn } from './arn.js';
import { MalformedPolicyError, PolicySizeError } from './errors.js';
import { parseOperator, type ParsedOperator } from './conditions.js';

export type PolicyKind = 'trust' | 'identity';
export type PrincipalType = 'AWS' | 'Federated' | 'Service' | 'CanonicalUser';
export const PRINCIPAL_TYPES: readonly PrincipalType[] = ['AWS', 'Federated', 'Service', 'CanonicalUser'];
const isPrincipalType = (t: string): t is PrincipalType => (PRINCIPAL_TYPES as readonly string[]).includes(t);

/** `'*'` (everyone) or, per principal type, the listed values (OR). */
export type PrincipalSpec = '*' | Partial<Record<PrincipalType, string[]>>;

export interface ConditionEntry {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  operator: string;
  op: ParsedOperator;
  /** The condition key as written (lookup is case-insensitive). */
  key: string;
  /** The policy's values, as strings (IAM accepts JSON numbers and booleans and compares their text). */
  values: string[];
  path: string;
}

export interface ParsedStatement {
  index: number;
  path: string;
  sid?: string;
  effect: Effect;
  principal?: PrincipalSpec;
  notPrincipal?: PrincipalSpec;
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  conditions: ConditionEntry[];
}

export interface ParsedPolicy {
  kind: PolicyKind;
  /** `2012-10-17`, `2008-10-17`, or undefined when absent (IAM then applies 2008 rules: no variables). */
  version?: string;
  id?: string;
  statements: ParsedStatement[];
  /** Size as IAM counts it: characters of the document without whitespace outside strings. */
  size: number;
}

export const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'] as const;

/** IAM's default quotas: role trust policy 2048 characters (raisable to 4096), managed policy 6144. */
export const DEFAULT_MAX_SIZE: Record<PolicyKind, number> = { trust: 2048, identity: 6144 };

export interface ParseOptions {
  /** Override the size quota (e.g. 4096 for an account with a raised trust-policy quota); 0 disables. */
  maxSize?: number;
}

const SYNTAX = 'Syntax errors in policy.';
const TOP_ELEMENTS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

/** `$.a.b["c:d"]`: plain identifiers dotted, anything else quoted. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/**
 * The document text `aws iam get-role` and the IAM API give: JSON, or the same URL-encoded
 * (`%7B%22Version%22...`). Returns the JSON text.
 */
export function decodePolicyText(text: string): string {
  const t = text.trim();
  if (/^%7b/i.test(t)) {
    try {
      return decodeURIComponent(t.replace(/\+/g, ' '));
    } catch {
      return t;
    }
  }
  return t;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** IAM's count: the document without insignificant whitespace. */
function policySize(doc: unknown): number {
  return JSON.stringify(doc).length;
}

/** Parse and validate; throws MalformedPolicyError (or PolicySizeError) at the first problem. */
export function parsePolicy(input: unknown, kind: PolicyKind, options: ParseOptions = {}): ParsedPolicy {
  const { policy, problems } = checkPolicy(input, kind, options);
  if (problems.length > 0) throw problems[0]!;
  return policy!;
}

/** Parse and validate, collecting every problem (for lint). `policy` is set when there is none. */
export function checkPolicy(
  input: unknown,
  kind: PolicyKind,
  options: ParseOptions = {},
): { policy?: ParsedPolicy; problems: Array<MalformedPolicyError | PolicySizeError> } {
  const problems: Array<MalformedPolicyError | PolicySizeError> = [];
  const fail = (message: string, path: string, detail?: string): void => {
    problems.push(new MalformedPolicyError(message, path, detail));
  };

  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(decodePolicyText(input));
    } catch (err) {
      fail(SYNTAX, '$', `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      return { problems };
    }
  }
  if (!isPlainObject(doc)) {
    fail(SYNTAX, '$', 'the policy must be a JSON object');
    return { problems };
  }

  const size = policySize(doc);
  const limit = options.maxSize ?? DEFAULT_MAX_SIZE[kind];
  if (limit > 0 && size > limit) {
    const quota = kind === 'trust' ? 'ACLSizePerRole' : 'PolicySize';
    problems.push(new PolicySizeError(`Cannot exceed quota for ${quota}: ${limit}`, size, limit));
  }

  for (const k of Object.keys(doc)) {
    if (!TOP_ELEMENTS.has(k)) fail(SYNTAX, childPath('$', k), `unknown top-level element "${k}"`);
  }
  let version: string | undefined;
  if ('Version' in doc) {
    const v = doc.Version;
    if (typeof v !== 'string' || !(POLICY_VERSIONS as readonly string[]).includes(v)) {
      fail(SYNTAX, '$.Version', `Version must be "2012-10-17" or "2008-10-17", got ${JSON.stringify(v)}`);
    } else version = v;
  }
  let id: string | undefined;
  if ('Id' in doc) {
    if (typeof doc.Id !== 'string') fail(SYNTAX, '$.Id', 'Id must be a string');
    else id = doc.Id;
  }

  const rawStatements = doc.Statement;
  let list: Array<{ raw: unknown; path: string }> = [];
  if (rawStatements === undefined) {
    fail(SYNTAX, '$', 'missing Statement');
  } else if (Array.isArray(rawStatements)) {
    if (rawStatements.length === 0) fail(SYNTAX, '$.Statement', 'Statement is empty');
    list = rawStatements.map((raw: unknown, i) => ({ raw, path: `$.Statement[${i}]` }));
  } else if (isPlainObject(rawStatements)) {
    list = [{ raw: rawStatements, path: '$.Statement' }];
  } else {
    fail(SYNTAX, '$.Statement', 'Statement must be an object or an array of objects');
  }

  const statements: ParsedStatement[] = [];
  const sids = new Set<string>();
  list.forEach(({ raw, path }, index) => {
    const before = problems.length;
    const st = parseStatement(raw, path, index, kind, fail);
    if (st?.sid) {
      if (sids.has(st.sid)) {
        fail(
          'Statement IDs (SID) in a single policy must be unique.',
          `${path}.Sid`,
          `duplicate Sid "${st.sid}"`,
        );
      }
      sids.add(st.sid);
    }
    if (st && problems.length === before) statements.push(st);
  });

  if (problems.length > 0) return { problems };
  const policy: ParsedPolicy = { kind, statements, size };
  if (version !== undefined) policy.version = version;
  if (id !== undefined) policy.id = id;
  return { policy, problems };
}

type Fail = (message: string, path: string, detail?: string) => void;

function stringList(v: unknown, path: string, name: string, fail: Fail): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  fail(SYNTAX, path, `${name} must be a string or an array of strings`);
  return undefined;
}

function parseStatement(
  raw: unknown,
  path: string,
  index: number,
  kind: PolicyKind,
  fail: Fail,
): ParsedStatement | undefined {
  if (!isPlainObject(raw)) {
    fail(SYNTAX, path, 'a statement must be a JSON object');
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!STATEMENT_ELEMENTS.has(k)) fail(SYNTAX, childPath(path, k), `unknown statement element "${k}"`);
  }

  const st: ParsedStatement = { index, path, effect: 'Allow', conditions: [] };

  if ('Sid' in raw) {
    if (typeof raw.Sid !== 'string') fail(SYNTAX, `${path}.Sid`, 'Sid must be a string');
    else {
      // Identity (managed) policies only take alphanumeric Sids; trust policies are more lenient.
      if (kind === 'identity' && !/^[0-9A-Za-z]*$/.test(raw.Sid)) {
        fail(
          'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*',
          `${path}.Sid`,
        );
      }
      if (raw.Sid !== '') st.sid = raw.Sid;
    }
  }

  // Effect: IAM's syntax pass accepts any case, its "legacy parsing" then requires exactly Allow or Deny.
  if (!('Effect' in raw)) fail(SYNTAX, path, 'missing Effect');
  else if (typeof raw.Effect !== 'string' || !['allow', 'deny'].includes(raw.Effect.toLowerCase())) {
    fail(SYNTAX, `${path}.Effect`, `Effect must be "Allow" or "Deny", got ${JSON.stringify(raw.Effect)}`);
  } else if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') {
    fail('The policy failed legacy parsing', `${path}.Effect`, `Effect is case-sensitive: "${raw.Effect}"`);
  } else st.effect = raw.Effect;

  // Principal / NotPrincipal
  if ('Principal' in raw && 'NotPrincipal' in raw) {
    fail(SYNTAX, path, 'a statement cannot have both Principal and NotPrincipal');
  }
  if (kind === 'trust') {
    if ('NotPrincipal' in raw) fail('Has prohibited field NotPrincipal.', `${path}.NotPrincipal`);
    else if (!('Principal' in raw)) fail('Missing required field Principal', path);
    if ('Principal' in raw) {
      const p = parsePrincipal(raw.Principal, `${path}.Principal`, fail);
      if (p) st.principal = p;
    }
  } else if ('Principal' in raw || 'NotPrincipal' in raw) {
    fail(
      'Policy document should not specify a principal.',
      `${path}.${'Principal' in raw ? 'Principal' : 'NotPrincipal'}`,
    );
  }

  // Action / NotAction
  if ('Action' in raw && 'NotAction' in raw)
    fail(SYNTAX, path, 'a statement cannot have both Action and NotAction');
  for (const name of ['Action', 'NotAction'] as const) {
    if (!(name in raw)) continue;
    const values = stringList(raw[name], `${path}.${name}`, name, fail);
    if (!values) continue;
    values.forEach((a, i) =>
      checkAction(a, Array.isArray(raw[name]) ? `${path}.${name}[${i}]` : `${path}.${name}`, fail),
    );
    if (name === 'Action') st.action = values;
    else st.notAction = values;
  }
  const actions = st.action ?? st.notAction;
  if (!('Action' in raw) && !('NotAction' in raw)) fail('Policy statement must contain actions.', path);
  else if (actions && actions.length === 0) fail('Policy statement must contain actions.', path);

  // Resource / NotResource
  if (kind === 'trust') {
    for (const name of ['Resource', 'NotResource'] as const) {
      if (name in raw) fail(`Has prohibited field ${name}.`, `${path}.${name}`);
    }
  } else {
    if ('Resource' in raw && 'NotResource' in raw) {
      fail(SYNTAX, path, 'a statement cannot have both Resource and NotResource');
    }
    for (const name of ['Resource', 'NotResource'] as const) {
      if (!(name in raw)) continue;
      const values = stringList(raw[name], `${path}.${name}`, name, fail);
      if (!values) continue;
      values.forEach((r, i) => {
        if (r !== '*' && !r.includes(':')) {
          fail(
            `Resource ${r} must be in ARN format or "*".`,
            Array.isArray(raw[name]) ? `${path}.${name}[${i}]` : `${path}.${name}`,
          );
        }
      });
      if (name === 'Resource') st.resource = values;
      else st.notResource = values;
    }
    const resources = st.resource ?? st.notResource;
    if (!('Resource' in raw) && !('NotResource' in raw))
      fail('Policy statement must contain resources.', path);
    else if (resources && resources.length === 0) fail('Policy statement must contain resources.', path);
  }

  if ('Condition' in raw) st.conditions = parseConditionBlock(raw.Condition, `${path}.Condition`, fail);
  return st;
}

function checkAction(action: string, path: string, fail: Fail): void {
  if (action === '*') return;
  const parts = action.split(':');
  if (parts.length === 1) {
    fail('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.', path, `"${action}"`);
  } else if (parts.length > 2) {
    fail('Actions/Condition can contain only one colon.', path, `"${action}"`);
  } else if (/[^a-zA-Z0-9\-.]/.test(parts[0]!)) {
    fail(`Vendor ${parts[0]} is not valid`, path);
  }
}

function invalidPrincipal(type: string, value: unknown): string {
  return `Invalid principal in policy: ${JSON.stringify(type)}:${JSON.stringify(value)}`;
}

/** A domain name such as accounts.google.com or cognito-identity.amazonaws.com. */
const DOMAIN_RE = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

function parsePrincipal(v: unknown, path: string, fail: Fail): PrincipalSpec | undefined {
  if (v === '*') return '*';
  if (!isPlainObject(v)) {
    fail(SYNTAX, path, 'Principal must be "*" or an object such as {"Federated": "<provider ARN>"}');
    return undefined;
  }
  const spec: Partial<Record<PrincipalType, string[]>> = {};
  const keys = Object.keys(v);
  if (keys.length === 0) fail(SYNTAX, path, 'Principal is empty');
  for (const type of keys) {
    const p = childPath(path, type);
    if (!isPrincipalType(type)) {
      fail(
        invalidPrincipal(type, v[type]),
        p,
        `unknown principal type "${type}" (AWS, Federated, Service, CanonicalUser)`,
      );
      continue;
    }
    const values = stringList(v[type], p, `Principal.${type}`, fail);
    if (!values) continue;
    values.forEach((value, i) => {
      const vp = Array.isArray(v[type]) ? `${p}[${i}]` : p;
      checkPrincipalValue(type, value, vp, fail);
    });
    spec[type] = values;
  }
  return spec;
}

function checkPrincipalValue(type: PrincipalType, value: string, path: string, fail: Fail): void {
  switch (type) {
    case 'AWS': {
      if (value === '*' || isAccountId(value)) return;
      const a = tryParseArn(value);
      const ok =
        !value.includes('*') &&
        !!a &&
        isPartition(a.partition) &&
        isAccountId(a.account) &&
        a.region === '' &&
        ((a.service === 'iam' && /^(root|(user|role)\/.+)$/.test(a.resource)) ||
          (a.service === 'sts' && /^(assumed-role|federated-user)\/.+$/.test(a.resource)));
      if (!ok) {
        let detail = 'expected "*", a 12-digit account id, or an IAM user/role/root or STS session ARN';
        if (a && a.resource.startsWith('oidc-provider/'))
          detail = 'an OIDC provider belongs under "Federated", not "AWS"';
        else if (value.includes('*')) detail = 'wildcards cannot match part of a principal ARN';
        fail(invalidPrincipal('AWS', value), path, detail);
      }
      return;
    }
    case 'Federated': {
      if (value.startsWith('arn:')) {
        if (parseOidcProviderArn(value) || isSamlProviderArn(value)) return;
      } else if (DOMAIN_RE.test(value)) return;
      fail('Federated principals must be valid domain names or SAML metadata ARNs', path, `"${value}"`);
      return;
    }
    case 'Service':
      if (value !== '*' && !DOMAIN_RE.test(value)) fail(invalidPrincipal('Service', value), path);
      return;
    case 'CanonicalUser':
      if (!/^[0-9a-f]{64}$/i.test(value)) fail(invalidPrincipal('CanonicalUser', value), path);
      return;
  }
}

function parseConditionBlock(v: unknown, path: string, fail: Fail): ConditionEntry[] {
  const out: ConditionEntry[] = [];
  if (!isPlainObject(v)) {
    fail(SYNTAX, path, 'Condition must be an object of {operator: {key: value(s)}}');
    return out;
  }
  for (const [operator, block] of Object.entries(v)) {
    const opPath = childPath(path, operator);
    if (!isPlainObject(block)) {
      fail(SYNTAX, opPath, `${operator} must map condition keys to values`);
      continue;
    }
    const op = parseOperator(operator);
    if (!op) {
      fail(`Invalid Condition type : ${operator}.`, opPath, 'unknown condition operator');
      continue;
    }
    for (const [key, raw] of Object.entries(block)) {
      const keyPath = childPath(opPath, key);
      if (!key.includes(':')) {
        fail(
          'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
          keyPath,
          `condition key "${key}"`,
        );
        continue;
      }
      const items = Array.isArray(raw) ? raw : [raw];
      if (!items.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
        fail(SYNTAX, keyPath, 'condition values must be strings (or numbers/booleans), or an array of them');
        continue;
      }
      const values = items.map((x) => String(x));
      if (
        op.base === 'Null' &&
        !values.every((x) => x.toLowerCase() === 'true' || x.toLowerCase() === 'false')
      ) {
        fail(SYNTAX, keyPath, 'Null takes "true" or "false"');
        continue;
      }
      if (
        op.base === 'Bool' &&
        !values.every((x) => x.toLowerCase() === 'true' || x.toLowerCase() === 'false')
      ) {
        fail(SYNTAX, keyPath, 'Bool takes "true" or "false"');
        continue;
      }
      out.push({ operator, op, key, values, path: keyPath });
    }
  }
  return out;
}
