/** Pieces AssumeRoleWithWebIdentity and AssumeRole share: parameters, session policies, request keys, traces. */
import { deflateRawSync } from 'node:zlib';
import { randomFillSync } from 'node:crypto';
import { assumedRoleArn, tryParseArn } from '../iam/arn.js';
import { policyErrorParts } from '../iam/errors.js';
import type { ConditionValue, EvaluationResult, RequestContext } from '../iam/types.js';
import type { KeyLookup } from '../oidc/verify.js';
import type { RoleConfig, StsConfig } from './config.js';
import type { IssueInput, IssuedCredentials, Random } from './credentials.js';
import { checkSessionPolicy } from './policy.js';
import {
  MSG,
  PATTERNS,
  StsError,
  checkInteger,
  checkString,
  listParam,
  isoSeconds,
  validationError,
  type AssumedRoleOut,
  type Params,
  type Violation,
} from './protocol.js';

/** What the HTTP layer knows about a request, for aws:* condition keys. */
export interface RequestMeta {
  sourceIp?: string;
  secureTransport: boolean;
  userAgent?: string;
}

export interface StsDeps {
  config: StsConfig;
  getKey: KeyLookup;
  /** Epoch milliseconds. */
  now: () => number;
  random?: Random;
  /** `explain --no-verify-signature` only. */
  skipSignature?: boolean;
}

/** One step of the decision, for `explain` and for logs. */
export interface TraceStep {
  step: string;
  ok: boolean;
  detail: string;
  lines?: string[];
  /** The error a failed step threw: explain derives its fix from it. */
  error?: StsError;
  /** A policy evaluation and the request it answered: explain explains it statement by statement. */
  evaluation?: { result: EvaluationResult; context: RequestContext };
}

export type Trace = TraceStep[];

/** A failed step: recorded in the trace (when one is kept) and thrown. */
export function failStep(trace: Trace | undefined, step: string, err: StsError): never {
  trace?.push({ step, ok: false, detail: err.explanation ?? err.message, error: err });
  throw err;
}

/** DurationSeconds (default one hour) within the role's MaxSessionDuration. */
export function checkDuration(
  requested: number | undefined,
  role: RoleConfig,
  trace: Trace | undefined,
): number {
  const duration = requested ?? 3600;
  if (duration > role.maxSessionDuration)
    failStep(
      trace,
      'duration',
      new StsError(
        'ValidationError',
        MSG.durationExceedsMax,
        `DurationSeconds ${duration} > MaxSessionDuration ${role.maxSessionDuration} of ${role.arn}`,
      ),
    );
  trace?.push({
    step: 'duration',
    ok: true,
    detail: `${duration} s ≤ MaxSessionDuration ${role.maxSessionDuration} s`,
  });
  return duration;
}

/** Session policies checked (`checkSessionPolicies`) as a step of a decision. */
export function sessionPoliciesStep(
  config: StsConfig,
  req: CommonParams,
  tags: Record<string, string> | undefined,
  trace: Trace | undefined,
): SessionPolicies {
  let policies: SessionPolicies;
  try {
    policies = checkSessionPolicies(config, req.policy, req.policyArns, tags);
  } catch (err) {
    if (err instanceof StsError) failStep(trace, 'session policies', err);
    throw err;
  }
  if (req.policy !== undefined || req.policyArns.length > 0)
    trace?.push({
      step: 'session policies',
      ok: true,
      detail: `${[req.policy !== undefined ? 'Policy' : '', ...req.policyArns].filter(Boolean).join(', ')} (they bound the session's permissions)`,
    });
  return policies;
}

export interface CommonParams {
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number;
  policy?: string;
  policyArns: string[];
}

/** RoleArn, RoleSessionName, DurationSeconds, Policy, PolicyArns with the model's constraints. */
export function readCommonParams(params: Params, out: Violation[]): Partial<CommonParams> {
  const roleArn = checkString(
    params,
    'RoleArn',
    {
      field: 'roleArn',
      required: true,
      min: 20,
      max: 2048,
      pattern: PATTERNS.arn.re,
      patternText: PATTERNS.arn.text,
    },
    out,
  );
  const roleSessionName = checkString(
    params,
    'RoleSessionName',
    {
      field: 'roleSessionName',
      required: true,
      min: 2,
      max: 64,
      pattern: PATTERNS.roleSessionName.re,
      patternText: PATTERNS.roleSessionName.text,
    },
    out,
  );
  const policy = checkString(
    params,
    'Policy',
    { field: 'policy', min: 1, max: 2048, pattern: PATTERNS.policy.re, patternText: PATTERNS.policy.text },
    out,
  );
  const policyArns = listParam(params, 'PolicyArns', 'arn');
  if (policyArns.length > 10)
    out.push({
      field: 'policyArns',
      value: undefined,
      constraint: 'Member must have length less than or equal to 10',
    });
  policyArns.forEach((a, i) => {
    const p = new Map([['x', a]]);
    checkString(p, 'x', { field: `policyArns.${i + 1}.member.arn`, min: 20, max: 2048 }, out);
  });
  const durationSeconds = checkInteger(params, 'DurationSeconds', 'durationSeconds', 900, 43200, out);
  return { roleArn, roleSessionName, policy, policyArns, durationSeconds };
}

export function throwIfViolations(out: Violation[]): void {
  if (out.length > 0) throw validationError(out);
}

/** Packed size as a percentage of the session-policy budget (an estimate: AWS does not document its packing). */
export const PACKED_LIMIT_BYTES = 2048;

export interface SessionPolicies {
  policy?: string;
  policyArns?: string[];
  packedPolicySize?: number;
}

/** Validate session policies (Policy, PolicyArns) and estimate PackedPolicySize; present only when any were given. */
export function checkSessionPolicies(
  config: StsConfig,
  policy: string | undefined,
  policyArns: string[],
  tags: Record<string, string> | undefined,
): SessionPolicies {
  let minified: string | undefined;
  if (policy !== undefined) {
    try {
      checkSessionPolicy(policy);
      minified = JSON.stringify(JSON.parse(policy));
    } catch (err) {
      const { message, path, detail } = policyErrorParts(err);
      throw new StsError(
        'MalformedPolicyDocument',
        message,
        `the session Policy is invalid${path ? ` at ${path}` : ''}: ${detail ?? message}`,
      );
    }
  }
  for (const arn of policyArns) {
    const a = tryParseArn(arn);
    if (!a || a.service !== 'iam' || !a.resource.startsWith('policy/'))
      throw validationError([
        { field: 'policyArns', value: arn, constraint: 'Member must be an IAM policy ARN' },
      ]);
    if (a.account !== 'aws' && !config.managedPolicies.has(arn))
      throw new StsError('InvalidParameterValue', `Policy ${arn} does not exist or is not attachable.`);
  }
  const anyTags = tags !== undefined && Object.keys(tags).length > 0;
  if (minified === undefined && policyArns.length === 0 && !anyTags) return {};
  const packed = deflateRawSync(
    Buffer.from(`${minified ?? ''}\n${policyArns.join('\n')}\n${anyTags ? JSON.stringify(tags) : ''}`),
  ).length;
  const percent = Math.max(1, Math.ceil((packed * 100) / PACKED_LIMIT_BYTES));
  if (percent > 100) throw new StsError('PackedPolicyTooLarge', MSG.packedTooLarge(percent));
  return {
    policy: minified,
    policyArns: policyArns.length > 0 ? policyArns : undefined,
    packedPolicySize: percent,
  };
}

let timeKeys = { second: NaN, currentTime: '', epochTime: '' };

/** Request-level global condition keys. */
export function globalKeys(
  config: StsConfig,
  meta: RequestMeta,
  nowMs: number,
): Record<string, ConditionValue> {
  const second = Math.floor(nowMs / 1000);
  // Both strings depend on the second only: formatted once a second, not per request.
  if (second !== timeKeys.second)
    timeKeys = {
      second,
      currentTime: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      epochTime: String(second),
    };
  const keys: Record<string, ConditionValue> = {
    'aws:CurrentTime': timeKeys.currentTime,
    'aws:EpochTime': timeKeys.epochTime,
    'aws:SecureTransport': meta.secureTransport ? 'true' : 'false',
    'aws:RequestedRegion': config.region,
  };
  if (meta.sourceIp) keys['aws:SourceIp'] = meta.sourceIp;
  if (meta.userAgent) keys['aws:UserAgent'] = meta.userAgent;
  return keys;
}

export function tagKeys(tags: Record<string, string> | undefined): Record<string, ConditionValue> {
  if (!tags || Object.keys(tags).length === 0) return {};
  const keys: Record<string, ConditionValue> = { 'aws:TagKeys': Object.keys(tags) };
  for (const [k, v] of Object.entries(tags)) keys[`aws:RequestTag/${k}`] = v;
  return keys;
}

const POOL_BYTES = 8192;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** CSPRNG bytes drawn from a pooled buffer: one getrandom call per ~150 credentials instead of three per issue. */
export const defaultRandom: Random = (n: number) => {
  if (n > POOL_BYTES) return randomFillSync(Buffer.alloc(n));
  if (poolOffset + n > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n)); // a copy: the pool is reused
  poolOffset += n;
  return out;
};

/** The fields of a session of `role` named `sessionName` that both ways of assuming a role set alike. */
export function roleSessionInput(
  config: StsConfig,
  role: RoleConfig,
  sessionName: string,
  durationSeconds: number,
  now: number,
): IssueInput {
  return {
    partition: config.partition,
    account: config.accountId,
    roleName: role.name,
    rolePath: role.path,
    roleId: role.roleId,
    sessionName,
    durationSeconds,
    now,
  };
}

/** The AssumedRoleUser and Credentials of a response, from the credentials issued. */
export function assumedRoleOut(
  issued: IssuedCredentials,
): Pick<AssumedRoleOut, 'arn' | 'assumedRoleId' | 'credentials'> {
  const s = issued.session;
  return {
    arn: assumedRoleArn(s.partition, s.account, s.roleName, s.sessionName),
    assumedRoleId: `${s.roleId}:${s.sessionName}`,
    credentials: {
      accessKeyId: issued.accessKeyId,
      secretAccessKey: issued.secretAccessKey,
      sessionToken: issued.sessionToken,
      expiration: isoSeconds(issued.expiration.getTime()),
    },
  };
}
