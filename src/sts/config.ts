/**
 * The STS configuration: account, IAM OIDC providers and roles in the shapes IAM's own API uses (so output of
 * `aws iam get-role` / `get-open-id-connect-provider` can be pasted), plus the session key replicas share.
 * A bad file is rejected at load with the file, the path inside it and what is wrong.
 */
import { FileReadError, cannotRead } from '../file-errors.js';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { JWK } from 'jose';
import { isAccountId, isIamPath, isPartition, isRoleName, oidcProviderArn, roleArn } from '../iam/arn.js';
import type { ProviderRef } from '../oidc/verify.js';
import type { ProviderTrust } from '../oidc/keys.js';
import { jwkProblem } from '../oidc/jwk.js';
import { decodePolicyText } from '../iam/policy.js';
import { policyErrorParts } from '../iam/errors.js';
import { IamApiConfigError, readIamApiConfig, type IamApiConfig } from '../iam-api/config.js';
import { checkTrustPolicy, checkPermissionPolicy, type PolicyDoc } from './policy.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export const SESSION_KEY_ENV = 'OPENIRSA_STS_SESSION_KEY';

export class ConfigError extends OpenIrsaError {
  constructor(
    readonly file: string,
    readonly path: string,
    what: string,
  ) {
    super('StsConfigInvalid', `${file}: ${path}: ${what}`);
  }
}

export interface ProviderConfig extends ProviderRef, ProviderTrust {}

export interface RolePolicy {
  name: string;
  document: PolicyDoc;
  /** The document's JSON text as written (IAM returns documents as submitted). */
  text?: string;
}

export interface RoleConfig {
  name: string;
  path: string;
  arn: string;
  roleId: string;
  trustPolicy: PolicyDoc;
  /** The trust policy's JSON text as written. */
  trustPolicyText?: string;
  description?: string;
  /** ISO 8601, when the config (or the IAM API) says when the role was made. */
  createDate?: string;
  maxSessionDuration: number;
  tags: Record<string, string>;
  inlinePolicies: RolePolicy[];
  managedPolicyArns: string[];
}

export interface StsConfig {
  file: string;
  accountId: string;
  partition: string;
  region: string;
  providers: ProviderConfig[];
  /** By role ARN. */
  roles: Map<string, RoleConfig>;
  /** Customer managed policies usable as PolicyArns and AttachedManagedPolicies, by ARN. */
  managedPolicies: Map<string, RolePolicy>;
  /** The IAM API (callers, state store); undefined = not served. */
  iamApi?: IamApiConfig;
  /** First = current (encrypts new sessions); all decrypt (rotation). */
  sessionKeys: Buffer[];
  sessionKeyGenerated: boolean;
  maxTokenAgeSeconds?: number;
  jwksCacheSeconds: number;
  jwksMinRefetchSeconds: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Base32 alphabet AWS uses in key and unique ids. */
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export function base32(bytes: Uint8Array, chars: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/** A stable `AROA…` unique id (21 chars) derived from the role ARN, so every replica agrees. */
export function deriveRoleId(arn: string): string {
  return deriveUniqueId('AROA', arn);
}

/** A stable IAM unique id (`AROA…` role, `ANPA…` policy) derived from an ARN. */
export function deriveUniqueId(prefix: string, arn: string): string {
  return prefix + base32(createHash('sha256').update(arn).digest(), 17);
}

class Reader {
  constructor(
    readonly file: string,
    readonly baseDir: string,
  ) {}
  fail(path: string, what: string): never {
    throw new ConfigError(this.file, path, what);
  }
  str(o: Obj, key: string, path: string, required: true): string;
  str(o: Obj, key: string, path: string, required?: false): string | undefined;
  str(o: Obj, key: string, path: string, required = false): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) this.fail(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') this.fail(`${path}.${key}`, `must be a string, not ${JSON.stringify(v)}`);
    return v;
  }
  int(o: Obj, key: string, path: string, min: number, max: number): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
      this.fail(`${path}.${key}`, `must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
    return n;
  }
  list(o: Obj, key: string, path: string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(`${path}.${key}`, 'must be a list');
    return v;
  }
  strList(o: Obj, key: string, path: string): string[] {
    const v = o[key];
    if (typeof v === 'string') return [v];
    return this.list(o, key, path).map((x, i) => {
      if (typeof x !== 'string') this.fail(`${path}.${key}[${i}]`, 'must be a string');
      return x;
    });
  }
  /** A file's text, relative to the config file. */
  readFile(p: string, path: string): string {
    try {
      return readFileSync(resolve(this.baseDir, p), 'utf8');
    } catch (err) {
      this.fail(path, cannotRead('', p, err));
    }
  }
  json(text: string, path: string): unknown {
    try {
      return JSON.parse(text);
    } catch (err) {
      this.fail(path, `not valid JSON: ${messageOf(err)}`);
    }
  }
}

function parseSessionKey(text: string, where: string, r: Reader, path: string): Buffer {
  const t = text.trim();
  const b = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (b.length !== 32) r.fail(path, `${where} must hold 32 bytes as base64 or hex (got ${b.length} bytes)`);
  return b;
}

function readProvider(
  r: Reader,
  raw: unknown,
  path: string,
  partition: string,
  account: string,
): ProviderConfig {
  if (!isObj(raw)) r.fail(path, 'must be an object (Url, ClientIDList, ThumbprintList, ...)');
  const p = isObj(raw.OpenIDConnectProvider) ? raw.OpenIDConnectProvider : raw;
  let url = r.str(p, 'Url', path, true);
  if (!/^[a-z]+:\/\//i.test(url)) url = `https://${url}`; // get-open-id-connect-provider prints it without scheme
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    r.fail(`${path}.Url`, `${JSON.stringify(url.replace(/\/\/[^/]*@/, '//…@'))} is not a URL`);
  }
  // Refused as IAM refuses it; never echoed, since the password would land in errors and logs.
  if (u.username || u.password)
    r.fail(`${path}.Url`, 'must not carry a user name or password (IAM rejects such a provider URL)');
  if (u.protocol !== 'https:') r.fail(`${path}.Url`, 'must start with https://');
  // IAM rejects a port too, but local labs serve issuers on one; allowed here and flagged in docs/sts.md.
  if (u.search || u.hash || url.includes('?') || url.includes('#'))
    r.fail(`${path}.Url`, 'must not have a query or fragment (IAM rejects them)');
  if (url.length > 255) r.fail(`${path}.Url`, 'must be at most 255 characters');
  const clientIds = r.strList(p, 'ClientIDList', path);
  if (clientIds.length === 0)
    r.fail(`${path}.ClientIDList`, 'must list at least one client id (audience), e.g. sts.amazonaws.com');
  if (clientIds.length > 100) r.fail(`${path}.ClientIDList`, 'at most 100 client ids');
  clientIds.forEach((c, i) => {
    if (c.length < 1 || c.length > 255) r.fail(`${path}.ClientIDList[${i}]`, 'must be 1-255 characters');
  });
  const thumbprints = r.strList(p, 'ThumbprintList', path).map((t, i) => {
    const n = t.replace(/:/g, '').toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(n))
      r.fail(`${path}.ThumbprintList[${i}]`, 'must be 40 hex characters (SHA-1)');
    return n;
  });
  if (thumbprints.length > 5) r.fail(`${path}.ThumbprintList`, 'at most 5 thumbprints');
  let caBundle: string | undefined;
  const ca = r.str(p, 'caBundle', path);
  if (ca !== undefined) caBundle = ca.includes('-----BEGIN') ? ca : r.readFile(ca, `${path}.caBundle`);
  if (caBundle !== undefined && !caBundle.includes('-----BEGIN CERTIFICATE-----'))
    r.fail(`${path}.caBundle`, 'holds no PEM certificate');
  let jwks: { keys: JWK[] } | undefined;
  let jwksRaw: unknown = p.jwks;
  const jwksFile = r.str(p, 'jwksFile', path);
  if (jwksFile !== undefined) jwksRaw = r.json(r.readFile(jwksFile, `${path}.jwksFile`), `${path}.jwksFile`);
  if (typeof jwksRaw === 'string') jwksRaw = r.json(jwksRaw, `${path}.jwks`);
  if (jwksRaw !== undefined) {
    if (!isObj(jwksRaw) || !Array.isArray(jwksRaw.keys))
      r.fail(`${path}.jwks`, 'must be a JWKS: {"keys": [...]}');
    (jwksRaw.keys as unknown[]).forEach((k, i) => {
      const why = jwkProblem(k);
      if (why) r.fail(`${path}.jwks.keys[${i}]`, `${why}; give the public JWKS`);
    });
    jwks = jwksRaw as { keys: JWK[] };
  }
  let discovery: { jwks_uri?: string } | undefined;
  if (p.discovery !== undefined) {
    const d = typeof p.discovery === 'string' ? r.json(p.discovery, `${path}.discovery`) : p.discovery;
    if (!isObj(d)) r.fail(`${path}.discovery`, 'must be an OpenID discovery document object');
    if (d.jwks_uri !== undefined && typeof d.jwks_uri !== 'string')
      r.fail(`${path}.discovery.jwks_uri`, 'must be a string');
    discovery = { jwks_uri: d.jwks_uri };
  }
  const keyPrefix = url.slice('https://'.length);
  return {
    url,
    arn: oidcProviderArn(partition, account, url),
    clientIds,
    keyPrefix,
    thumbprints,
    caBundle,
    jwks,
    discovery,
  };
}

function readPolicyDoc(r: Reader, raw: unknown, path: string, kind: 'trust' | 'identity'): PolicyDoc {
  if (raw === undefined || raw === null) r.fail(path, 'is required');
  try {
    return kind === 'trust' ? checkTrustPolicy(raw) : checkPermissionPolicy(raw);
  } catch (err) {
    const e = policyErrorParts(err);
    const inner = e.path && e.path !== '$' ? e.path.replace(/^\$/, '') : '';
    r.fail(`${path}${inner}`, `${e.message}${e.detail ? ` (${e.detail})` : ''}`);
  }
}

/** The JSON text of a policy given as an object, JSON text or URL-encoded JSON. */
function policyText(raw: unknown): string {
  return typeof raw === 'string' ? decodePolicyText(raw) : JSON.stringify(raw);
}

function readTags(r: Reader, o: Obj, path: string): Record<string, string> {
  const tags: Record<string, string> = {};
  r.list(o, 'Tags', path).forEach((t, i) => {
    if (!isObj(t)) r.fail(`${path}.Tags[${i}]`, 'must be {Key, Value}');
    tags[r.str(t, 'Key', `${path}.Tags[${i}]`, true)] = r.str(t, 'Value', `${path}.Tags[${i}]`) ?? '';
  });
  return tags;
}

function readRole(r: Reader, raw: unknown, path: string, partition: string, account: string): RoleConfig {
  if (!isObj(raw)) r.fail(path, 'must be an object (RoleName, AssumeRolePolicyDocument, ...)');
  const o = isObj(raw.Role) ? raw.Role : raw; // `aws iam get-role` output pasted as is
  const name = r.str(o, 'RoleName', path, true);
  if (!isRoleName(name)) r.fail(`${path}.RoleName`, 'must be 1-64 characters of [A-Za-z0-9+=,.@_-]');
  const rolePath = r.str(o, 'Path', path) ?? '/';
  if (!isIamPath(rolePath)) r.fail(`${path}.Path`, 'must be "/" or start and end with "/"');
  const arn = roleArn(partition, account, name, rolePath);
  const givenArn = r.str(o, 'Arn', path);
  if (givenArn !== undefined && givenArn !== arn)
    r.fail(`${path}.Arn`, `${givenArn} disagrees with accountId/partition/Path/RoleName (${arn})`);
  const roleId = r.str(o, 'RoleId', path) ?? deriveRoleId(arn);
  if (!/^AROA[A-Z0-9]{12,124}$/.test(roleId))
    r.fail(`${path}.RoleId`, 'must look like AROA followed by 17 upper-case letters/digits');
  const trustPolicy = readPolicyDoc(
    r,
    o.AssumeRolePolicyDocument,
    `${path}.AssumeRolePolicyDocument`,
    'trust',
  );
  const maxSessionDuration = r.int(o, 'MaxSessionDuration', path, 3600, 43200) ?? 3600;
  const inlinePolicies = r.list(o, 'RolePolicyList', path).map((p, i) => {
    const pp = `${path}.RolePolicyList[${i}]`;
    if (!isObj(p)) r.fail(pp, 'must be {PolicyName, PolicyDocument}');
    return {
      name: r.str(p, 'PolicyName', pp, true),
      document: readPolicyDoc(r, p.PolicyDocument, `${pp}.PolicyDocument`, 'identity'),
      text: policyText(p.PolicyDocument),
    };
  });
  const managedPolicyArns = r.list(o, 'AttachedManagedPolicies', path).map((p, i) => {
    const pp = `${path}.AttachedManagedPolicies[${i}]`;
    if (typeof p === 'string') return p;
    if (!isObj(p)) r.fail(pp, 'must be {PolicyArn} or an ARN string');
    return r.str(p, 'PolicyArn', pp, true);
  });
  return {
    name,
    path: rolePath,
    arn,
    roleId,
    trustPolicy,
    trustPolicyText: policyText(o.AssumeRolePolicyDocument),
    description: r.str(o, 'Description', path),
    createDate: r.str(o, 'CreateDate', path),
    maxSessionDuration,
    tags: readTags(r, o, path),
    inlinePolicies,
    managedPolicyArns,
  };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Called when no session key is configured and one is generated. */
  warn?: (message: string) => void;
}

/** Parse a config object (already read from YAML/JSON). `file` names it in errors. */
export function buildConfig(doc: unknown, file: string, options: LoadOptions = {}): StsConfig {
  const r: Reader = new Reader(file, dirname(resolve(file)));
  if (!isObj(doc)) r.fail('$', 'the config must be a mapping (accountId, oidcProviders, roles, ...)');
  const known = new Set([
    'accountId',
    'partition',
    'region',
    'oidcProviders',
    'roles',
    'managedPolicies',
    'sessionKey',
    'sessionKeyFile',
    'previousSessionKeys',
    'maxTokenAgeSeconds',
    'jwksCacheSeconds',
    'jwksMinRefetchSeconds',
    'iamApi',
  ]);
  for (const k of Object.keys(doc))
    if (!known.has(k)) r.fail(k, `unknown key (known: ${[...known].join(', ')})`);
  const accountRaw = doc.accountId;
  if (typeof accountRaw === 'number')
    r.fail('accountId', 'must be a quoted string (a number loses leading zeros)');
  const accountId = r.str(doc, 'accountId', '$', true);
  if (!isAccountId(accountId)) r.fail('accountId', `must be 12 digits, not ${JSON.stringify(accountId)}`);
  const partition = r.str(doc, 'partition', '$') ?? 'aws';
  if (!isPartition(partition))
    r.fail('partition', `unknown partition ${JSON.stringify(partition)} (aws, aws-cn, aws-us-gov, ...)`);
  const region =
    r.str(doc, 'region', '$') ??
    (partition === 'aws-cn' ? 'cn-north-1' : partition === 'aws-us-gov' ? 'us-gov-west-1' : 'us-east-1');

  const providers = r
    .list(doc, 'oidcProviders', '$')
    .map((p, i) => readProvider(r, p, `oidcProviders[${i}]`, partition, accountId));
  const seen = new Set<string>();
  providers.forEach((p, i) => {
    if (seen.has(p.url)) r.fail(`oidcProviders[${i}].Url`, `duplicate provider ${p.url}`);
    seen.add(p.url);
  });

  const managedPolicies = new Map<string, RolePolicy>();
  r.list(doc, 'managedPolicies', '$').forEach((p, i) => {
    const pp = `managedPolicies[${i}]`;
    if (!isObj(p)) r.fail(pp, 'must be {PolicyName, PolicyDocument[, Arn, Path]}');
    const name = r.str(p, 'PolicyName', pp, true);
    const arn =
      r.str(p, 'Arn', pp) ?? `arn:${partition}:iam::${accountId}:policy${r.str(p, 'Path', pp) ?? '/'}${name}`;
    managedPolicies.set(arn, {
      name,
      document: readPolicyDoc(r, p.PolicyDocument, `${pp}.PolicyDocument`, 'identity'),
      text: policyText(p.PolicyDocument),
    });
  });

  const roles = new Map<string, RoleConfig>();
  r.list(doc, 'roles', '$').forEach((raw, i) => {
    const role = readRole(r, raw, `roles[${i}]`, partition, accountId);
    for (const existing of roles.values())
      if (existing.name.toLowerCase() === role.name.toLowerCase())
        r.fail(
          `roles[${i}].RoleName`,
          `duplicate role name ${role.name} (IAM role names are case-insensitive)`,
        );
    role.managedPolicyArns.forEach((a, j) => {
      if (!managedPolicies.has(a) && !a.includes(':aws:policy/'))
        r.fail(`roles[${i}].AttachedManagedPolicies[${j}]`, `${a} is not declared under managedPolicies`);
    });
    roles.set(role.arn, role);
  });

  const env = options.env ?? process.env;
  const sessionKeys: Buffer[] = [];
  const keyText = r.str(doc, 'sessionKey', '$');
  const keyFile = r.str(doc, 'sessionKeyFile', '$');
  if (keyText !== undefined) sessionKeys.push(parseSessionKey(keyText, 'sessionKey', r, 'sessionKey'));
  else if (keyFile !== undefined)
    sessionKeys.push(parseSessionKey(r.readFile(keyFile, 'sessionKeyFile'), keyFile, r, 'sessionKeyFile'));
  else if (env[SESSION_KEY_ENV])
    sessionKeys.push(parseSessionKey(env[SESSION_KEY_ENV], `$${SESSION_KEY_ENV}`, r, 'sessionKey'));
  let generated = false;
  if (sessionKeys.length === 0) {
    sessionKeys.push(randomBytes(32));
    generated = true;
    options.warn?.(
      `no sessionKey, sessionKeyFile or $${SESSION_KEY_ENV}: generated a random session key; sessions will not survive a restart and replicas will not accept each other's credentials`,
    );
  }
  r.strList(doc, 'previousSessionKeys', '$').forEach((k, i) =>
    sessionKeys.push(parseSessionKey(k, 'previousSessionKeys', r, `previousSessionKeys[${i}]`)),
  );

  let iamApi: IamApiConfig | undefined;
  if (doc.iamApi !== undefined) {
    try {
      iamApi = readIamApiConfig(doc.iamApi, file, (p) => readFileSync(p, 'utf8'));
    } catch (err) {
      if (err instanceof IamApiConfigError) r.fail(err.path, err.message);
      throw err;
    }
  }

  return {
    file,
    accountId,
    partition,
    region,
    iamApi,
    providers,
    roles,
    managedPolicies,
    sessionKeys,
    sessionKeyGenerated: generated,
    maxTokenAgeSeconds: r.int(doc, 'maxTokenAgeSeconds', '$', 1, 10 * 365 * 86400),
    jwksCacheSeconds: r.int(doc, 'jwksCacheSeconds', '$', 0, 86400 * 7) ?? 3600,
    jwksMinRefetchSeconds: r.int(doc, 'jwksMinRefetchSeconds', '$', 0, 3600) ?? 10,
  };
}

/** Read and parse a YAML or JSON config file. */
export function loadConfig(file: string, options: LoadOptions = {}): StsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileReadError('config file', file, err);
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      file,
      '$',
      `not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${messageOf(err).split('\n')[0]}`,
    );
  }
  return buildConfig(doc, file, options);
}

/** Find a role by ARN: exact, as IAM matches role ARNs in AssumeRole* calls. */
export function findRole(config: StsConfig, arn: string): RoleConfig | undefined {
  return config.roles.get(arn);
}
