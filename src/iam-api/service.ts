/**
 * The IAM Query API on the STS's port: requests signed for service `iam` (or carrying Version 2010-05-08) come
 * here. Authenticate (SigV4: the admin key or an STS session), authorize with the policy engine, run the action
 * on the live state through the store, answer IAM's XML; every call is logged, denials with their reasons.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { iamUserArn } from '../iam/arn.js';
import type { ConditionValue } from '../iam/types.js';
import type { StsConfig } from '../sts/config.js';
import { principalKeys } from '../sts/assume-role.js';
import { globalKeys } from '../sts/common.js';
import { roleOfSession } from '../sts/policy.js';
import { sessionArn, type Random } from '../sts/credentials.js';
import { StsError, parseParams, type Params } from '../sts/protocol.js';
import type { HttpInput, HttpOutput } from '../sts/server.js';
import { verifySigV4Any } from '../sts/sigv4.js';
import { ACTIONS, actionResource, type ActionContext } from './actions.js';
import { authorize, type Caller } from './authorize.js';
import type { IamApiConfig } from './config.js';
import { IAM_MSG, IamApiError, type IamApiErrorCode } from './errors.js';
import { IAM_API_VERSION, renderIamError, renderResponse } from './responses.js';
import { ConflictError, type IamStore } from './store.js';
import { messageOf } from '../errors.js';

export interface IamApiOptions {
  api: IamApiConfig;
  store: IamStore;
  /** The live STS config (account, session keys, roles and policies as the store has them now). */
  config: () => StsConfig;
  logger?: Logger;
  now?: () => number;
  random?: Random;
}

const SIGNED_FOR_IAM = /\/iam\/aws4_request/;

export class IamApiService {
  private readonly now: () => number;
  private readonly random: Random;

  constructor(private readonly o: IamApiOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? randomBytes;
  }

  /** Is this request for IAM rather than STS? Cheap: the STS hot path pays one header test and one search. */
  claims(input: HttpInput): boolean {
    const auth = input.headers.authorization;
    if (typeof auth === 'string') return SIGNED_FOR_IAM.test(auth);
    if (input.query.includes('X-Amz-Credential='))
      return /X-Amz-Credential=[^&]*%2Fiam%2Faws4_request/i.test(input.query);
    return (
      input.body.includes(`Version=${IAM_API_VERSION}`) || input.query.includes(`Version=${IAM_API_VERSION}`)
    );
  }

  private async authenticate(input: HttpInput): Promise<Caller> {
    const config = this.o.config();
    const admin = this.o.api.admin;
    try {
      const v = await verifySigV4Any(input, {
        now: this.now(),
        keys: config.sessionKeys,
        service: 'iam',
        partition: config.partition,
        staticKeys: (id) => (admin && id === admin.accessKeyId ? admin.secretAccessKey : undefined),
      });
      if (!v.session)
        return {
          kind: 'admin',
          arn: iamUserArn(config.partition, config.accountId, admin!.userName),
          userName: admin!.userName,
          accessKeyId: v.accessKeyId,
        };
      const arn = sessionArn(v.session);
      if (!this.o.api.sessionCredentials)
        throw new IamApiError(
          'InvalidClientTokenId',
          IAM_MSG.invalidClientTokenId,
          `${arn}: iamApi.sessionCredentials is false`,
        );
      return { kind: 'session', arn, session: v.session };
    } catch (err) {
      if (err instanceof StsError)
        throw new IamApiError(err.code as IamApiErrorCode, err.message, err.explanation);
      throw err;
    }
  }

  /** Condition keys of an IAM request: global, principal (sessions), request tags, resource tags. */
  private conditionKeys(
    input: HttpInput,
    caller: Caller,
    params: Params,
    ctx: ActionContext,
  ): Record<string, ConditionValue> {
    const config = this.o.config();
    const keys: Record<string, ConditionValue> = globalKeys(
      config,
      {
        sourceIp: input.remoteAddress?.replace(/^::ffff:/, ''),
        secureTransport: input.secure,
        userAgent: typeof input.headers['user-agent'] === 'string' ? input.headers['user-agent'] : undefined,
      },
      this.now(),
    );
    if (caller.kind === 'session') {
      Object.assign(keys, principalKeys(caller.session, roleOfSession(config, caller.session)?.tags));
    }
    const tagKeys: string[] = [];
    for (let i = 1; ; i++) {
      const k = params.get(`Tags.member.${i}.Key`);
      if (k === undefined) break;
      tagKeys.push(k);
      keys[`aws:RequestTag/${k}`] = params.get(`Tags.member.${i}.Value`) ?? '';
    }
    if (tagKeys.length) keys['aws:TagKeys'] = tagKeys;
    const roleName = params.get('RoleName');
    const role = roleName ? ctx.state.roles.get(roleName.toLowerCase()) : undefined;
    for (const t of role?.tags ?? []) {
      keys[`aws:ResourceTag/${t.Key}`] = t.Value;
      keys[`iam:ResourceTag/${t.Key}`] = t.Value;
    }
    return keys;
  }

  async handle(input: HttpInput): Promise<HttpOutput> {
    const requestId = randomUUID();
    let action = '';
    let caller: Caller | undefined;
    let resource: string | undefined;
    const log = this.o.logger;
    try {
      if (input.method !== 'POST' && input.method !== 'GET')
        throw new IamApiError(
          'MethodNotAllowed',
          `The HTTP method ${input.method} is not allowed; use GET or POST`,
        );
      const params = parseParams(input.method === 'POST' ? input.body : '', input.query);
      action = params.get('Action') ?? '';
      if (!action) throw new IamApiError('MissingAction', IAM_MSG.missingAction);
      const version = params.get('Version') ?? 'NO_VERSION_SPECIFIED';
      if (version !== IAM_API_VERSION)
        throw new IamApiError('InvalidAction', IAM_MSG.invalidAction(action, version));
      caller = await this.authenticate(input);
      // Own keys only: `Action=constructor` must not reach Object.prototype.
      const run = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!run) throw new IamApiError('InvalidAction', IAM_MSG.invalidAction(action, version));
      const config = this.o.config();
      const account = { partition: config.partition, accountId: config.accountId };
      const ctx = (state = this.o.store.state): ActionContext => ({
        account,
        state,
        now: this.now(),
        random: this.random,
        trustPolicyMaxSize: this.o.api.trustPolicyMaxSize,
      });
      const first = ctx();
      resource = actionResource(first, action, params);
      const reasons = authorize(config, caller, {
        action: `iam:${action}`,
        resource,
        conditionKeys: this.conditionKeys(input, caller, params, first),
      });
      let outcome;
      try {
        outcome = await this.o.store.apply((state) => run(ctx(state), params));
      } catch (err) {
        if (err instanceof ConflictError)
          throw new IamApiError('ConcurrentModification', IAM_MSG.concurrentModification, err.message);
        throw err;
      }
      log?.info(
        {
          event: 'iam_api',
          requestId,
          action,
          caller: caller.arn,
          resource,
          wrote: outcome.write ? `${outcome.write.kind}/${outcome.write.id}` : undefined,
          allowedBy: reasons.slice(0, 20),
        },
        'iam call',
      );
      return {
        status: 200,
        contentType: 'text/xml',
        body: renderResponse(action, account, outcome.result, requestId),
        requestId,
      };
    } catch (err) {
      const e =
        err instanceof IamApiError
          ? err
          : new IamApiError('ServiceFailure', IAM_MSG.internal, messageOf(err));
      const fields: Record<string, unknown> = {
        event: 'iam_denied',
        requestId,
        action,
        caller: caller?.arn,
        resource,
        code: e.code,
        status: e.status,
        message: e.message,
        reason: e.explanation ?? e.message,
      };
      if (e.details) fields.statements = e.details;
      if (e.status >= 500) log?.error(fields, 'iam call failed');
      else log?.warn(fields, 'iam call refused');
      return { status: e.status, contentType: 'text/xml', body: renderIamError(e, requestId), requestId };
    }
  }
}
