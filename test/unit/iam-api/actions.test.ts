import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIONS, type ActionContext } from '../../../src/iam-api/actions.js';
import { IamApiError } from '../../../src/iam-api/errors.js';
import { emptyState, type IamState } from '../../../src/iam-api/model.js';
import { renderResponse } from '../../../src/iam-api/responses.js';
import { IamStore, MemoryBackend } from '../../../src/iam-api/store.js';

const ACCOUNT = { partition: 'aws', accountId: '111122223333' };
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const ISSUER = 'https://oidc.example.com/id/ABC';
const PROVIDER_ARN = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/ABC';
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: PROVIDER_ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { 'oidc.example.com/id/ABC:sub': 'system:serviceaccount:a:b' } },
    },
  ],
});
const S3_READ =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}';

let counter = 0;
const random = (n: number) => Buffer.alloc(n, ++counter);

async function setup(seed: IamState = emptyState()) {
  const store = new IamStore(seed, new MemoryBackend());
  await store.start();
  const call = async (action: string, params: Record<string, string | string[]> = {}) => {
    const p = new Map<string, string>();
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) v.forEach((x, i) => p.set(`${k}.member.${i + 1}`, x));
      else p.set(k, v);
    }
    const ctx = (state: IamState): ActionContext => ({ account: ACCOUNT, state, now: NOW, random });
    return (await store.apply((s) => ACTIONS[action]!(ctx(s), p))).result;
  };
  const fails = async (
    action: string,
    params: Record<string, string | string[]>,
    code: string,
    message?: RegExp | string,
  ) => {
    await assert.rejects(call(action, params), (err: unknown) => {
      assert.ok(err instanceof IamApiError, `${action} threw ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (typeof message === 'string') assert.equal(err.message, message);
      else if (message) assert.match(err.message, message);
      return true;
    });
  };
  return { store, call, fails };
}

const provider = {
  Url: ISSUER,
  ClientIDList: ['sts.amazonaws.com'],
  ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
};

test('OIDC providers: create, get, list, client ids, thumbprints, tags, delete', async () => {
  const { call, fails, store } = await setup();
  const created = await call('CreateOpenIDConnectProvider', {
    ...provider,
    'Tags.member.1.Key': 'team',
    'Tags.member.1.Value': 'a',
  });
  assert.equal(created.arn, PROVIDER_ARN);
  await fails(
    'CreateOpenIDConnectProvider',
    provider,
    'EntityAlreadyExists',
    `Provider with url ${ISSUER} already exists.`,
  );
  await call('AddClientIDToOpenIDConnectProvider', {
    OpenIDConnectProviderArn: PROVIDER_ARN,
    ClientID: 'other',
  });
  await call('AddClientIDToOpenIDConnectProvider', {
    OpenIDConnectProviderArn: PROVIDER_ARN,
    ClientID: 'other',
  });
  assert.deepEqual(store.state.providers.get('oidc.example.com/id/ABC')!.clientIds, [
    'sts.amazonaws.com',
    'other',
  ]);
  await call('RemoveClientIDFromOpenIDConnectProvider', {
    OpenIDConnectProviderArn: PROVIDER_ARN,
    ClientID: 'sts.amazonaws.com',
  });
  await call('UpdateOpenIDConnectProviderThumbprint', {
    OpenIDConnectProviderArn: PROVIDER_ARN,
    ThumbprintList: ['A'.repeat(40)],
  });
  await call('TagOpenIDConnectProvider', {
    OpenIDConnectProviderArn: PROVIDER_ARN,
    'Tags.member.1.Key': 'TEAM',
    'Tags.member.1.Value': 'b',
  });
  await call('UntagOpenIDConnectProvider', { OpenIDConnectProviderArn: PROVIDER_ARN, TagKeys: ['nope'] });
  const got = (await call('GetOpenIDConnectProvider', { OpenIDConnectProviderArn: PROVIDER_ARN }))
    .provider as Record<string, unknown>;
  assert.deepEqual(got.clientIds, ['other']);
  assert.deepEqual(got.thumbprints, ['a'.repeat(40)]);
  assert.deepEqual(
    got.tags,
    [{ Key: 'team', Value: 'b' }],
    'tag keys are case-insensitive; the first spelling stays',
  );
  assert.deepEqual((await call('ListOpenIDConnectProviders')).arns, [PROVIDER_ARN]);
  const xml = renderResponse('GetOpenIDConnectProvider', ACCOUNT, { provider: got }, 'rid');
  assert.match(
    xml,
    /<ThumbprintList><member>a{40}<\/member><\/ThumbprintList><CreateDate>2026-01-02T03:04:05Z<\/CreateDate><ClientIDList><member>other<\/member><\/ClientIDList><Url>oidc.example.com\/id\/ABC<\/Url>/,
  );
  await call('DeleteOpenIDConnectProvider', { OpenIDConnectProviderArn: PROVIDER_ARN });
  await fails(
    'GetOpenIDConnectProvider',
    { OpenIDConnectProviderArn: PROVIDER_ARN },
    'NoSuchEntity',
    `OpenIDConnect Provider not found for arn ${PROVIDER_ARN}`,
  );
  await fails(
    'GetOpenIDConnectProvider',
    { OpenIDConnectProviderArn: 'arn:aws:iam::111122223333:role/x' },
    'InvalidInput',
    /is not valid/,
  );
});

test('OIDC provider validation: URL, thumbprints, client ids, tags', async () => {
  const { fails } = await setup();
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, Url: 'http://x.example.com' },
    'InvalidInput',
    'Invalid Openid Connect Provider URL',
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, Url: 'https://x.example.com/?a=b' },
    'InvalidInput',
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, ThumbprintList: ['abc'] },
    'ValidationError',
    /at 'thumbprintList.1.member' failed to satisfy constraint: Member must have length greater than or equal to 40/,
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, ThumbprintList: ['g'.repeat(40)] },
    'InvalidInput',
    /hexadecimal/,
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, ThumbprintList: Array.from({ length: 6 }, (_, i) => String(i).repeat(40)) },
    'InvalidInput',
    'Thumbprint list must contain fewer than 5 entries.',
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, ClientIDList: Array.from({ length: 101 }, (_, i) => `c${i}`) },
    'LimitExceeded',
    /ClientIdsPerOpenIdConnectProvider: 100/,
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ...provider, ClientIDList: ['x'.repeat(256)] },
    'ValidationError',
    /clientIDList.1.member/,
  );
  await fails(
    'CreateOpenIDConnectProvider',
    {
      ...provider,
      'Tags.member.1.Key': 'a',
      'Tags.member.1.Value': '1',
      'Tags.member.2.Key': 'A',
      'Tags.member.2.Value': '2',
    },
    'InvalidInput',
    /Duplicate tag keys/,
  );
  await fails(
    'CreateOpenIDConnectProvider',
    { ClientIDList: ['x'] },
    'ValidationError',
    "1 validation error detected: Value null at 'url' failed to satisfy constraint: Member must not be null",
  );
});

test('roles: create, get, update, trust policy, tags, list with path prefix and paging, delete', async () => {
  const { call, fails } = await setup();
  const r = (
    await call('CreateRole', {
      RoleName: 'Writer',
      Path: '/irsa/',
      AssumeRolePolicyDocument: TRUST,
      Description: 'a & b',
      'Tags.member.1.Key': 'k',
      'Tags.member.1.Value': 'v',
    })
  ).role as Record<string, unknown>;
  assert.match(String(r.roleId), /^AROA[A-Z2-7]{17}$/);
  assert.equal(r.createDate, '2026-01-02T03:04:05Z');
  await fails(
    'CreateRole',
    { RoleName: 'writer', AssumeRolePolicyDocument: TRUST },
    'EntityAlreadyExists',
    'Role with name writer already exists.',
  );
  for (const name of ['b', 'c', 'd'])
    await call('CreateRole', { RoleName: name, AssumeRolePolicyDocument: TRUST });
  const xml = renderResponse('CreateRole', ACCOUNT, { role: r }, 'rid');
  assert.ok(
    xml.includes(
      `<Role><Path>/irsa/</Path><Arn>arn:aws:iam::111122223333:role/irsa/Writer</Arn><RoleName>Writer</RoleName><AssumeRolePolicyDocument>${encodeURIComponent(TRUST)}</AssumeRolePolicyDocument><CreateDate>2026-01-02T03:04:05Z</CreateDate><RoleId>${String(r.roleId)}</RoleId><Description>a &amp; b</Description><MaxSessionDuration>3600</MaxSessionDuration><Tags><member><Key>k</Key><Value>v</Value></member></Tags>`,
    ),
    xml,
  );
  const page1 = await call('ListRoles', { MaxItems: '2' });
  assert.deepEqual(
    (page1.items as Array<{ name: string }>).map((x) => x.name),
    ['b', 'c'],
  );
  assert.equal(page1.isTruncated, true);
  const page2 = await call('ListRoles', { MaxItems: '2', Marker: page1.marker as string });
  assert.deepEqual(
    (page2.items as Array<{ name: string }>).map((x) => x.name),
    ['d', 'Writer'],
  );
  assert.equal(page2.isTruncated, false);
  assert.deepEqual(
    ((await call('ListRoles', { PathPrefix: '/irsa/' })).items as Array<{ name: string }>).map((x) => x.name),
    ['Writer'],
  );
  await fails('ListRoles', { Marker: '!!' }, 'InvalidInput');
  await call('UpdateRole', { RoleName: 'writer', MaxSessionDuration: '7200', Description: 'new' });
  const other = TRUST.replace('system:serviceaccount:a:b', 'system:serviceaccount:a:c');
  await call('UpdateAssumeRolePolicy', { RoleName: 'Writer', PolicyDocument: other });
  const got = (await call('GetRole', { RoleName: 'WRITER' })).role as Record<string, unknown>;
  assert.equal(got.maxSessionDuration, 7200);
  assert.equal(got.description, 'new');
  assert.equal(got.trustPolicy, other);
  await call('TagRole', { RoleName: 'Writer', 'Tags.member.1.Key': 'x', 'Tags.member.1.Value': '1' });
  await call('UntagRole', { RoleName: 'Writer', TagKeys: ['K'] });
  assert.deepEqual((await call('ListRoleTags', { RoleName: 'Writer' })).items, [{ Key: 'x', Value: '1' }]);
  await call('DeleteRole', { RoleName: 'Writer' });
  await fails(
    'GetRole',
    { RoleName: 'Writer' },
    'NoSuchEntity',
    'The role with name Writer cannot be found.',
  );
});

test('role validation: names, paths, durations, trust-policy grammar and size', async () => {
  const { fails } = await setup();
  await fails(
    'CreateRole',
    { RoleName: 'bad name', AssumeRolePolicyDocument: TRUST },
    'ValidationError',
    "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
  );
  await fails(
    'CreateRole',
    { RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: TRUST },
    'ValidationError',
    /Member must have length less than or equal to 64/,
  );
  await fails(
    'CreateRole',
    { RoleName: 'r', Path: 'irsa', AssumeRolePolicyDocument: TRUST },
    'ValidationError',
    /at 'path'/,
  );
  await fails(
    'CreateRole',
    { RoleName: 'r', AssumeRolePolicyDocument: TRUST, MaxSessionDuration: '100' },
    'ValidationError',
    "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
  );
  await fails('CreateRole', { RoleName: 'r' }, 'ValidationError', /Value null at 'assumeRolePolicyDocument'/);
  await fails(
    'CreateRole',
    { RoleName: 'r', AssumeRolePolicyDocument: '{"Version":"2012-10-17"' },
    'MalformedPolicyDocument',
    'Syntax errors in policy.',
  );
  await fails(
    'CreateRole',
    { RoleName: 'r', AssumeRolePolicyDocument: S3_READ },
    'MalformedPolicyDocument',
    'Missing required field Principal',
  );
  await fails(
    'CreateRole',
    {
      RoleName: 'r',
      AssumeRolePolicyDocument: TRUST.replace(PROVIDER_ARN, 'arn:aws:iam::111122223333:role/x'),
    },
    'MalformedPolicyDocument',
    'Federated principals must be valid domain names or SAML metadata ARNs',
  );
  const big = JSON.stringify({ ...JSON.parse(TRUST), Id: 'x'.repeat(2100) });
  await fails(
    'CreateRole',
    { RoleName: 'r', AssumeRolePolicyDocument: big },
    'LimitExceeded',
    'Cannot exceed quota for ACLSizePerRole: 2048',
  );
  await fails('UpdateRole', { RoleName: 'nope' }, 'NoSuchEntity');
});

test('inline policies: put, get, list, delete; DeleteRole refused while policies are attached', async () => {
  const { call, fails } = await setup();
  await call('CreateRole', { RoleName: 'r', AssumeRolePolicyDocument: TRUST });
  await call('PutRolePolicy', { RoleName: 'r', PolicyName: 'read', PolicyDocument: S3_READ });
  await call('PutRolePolicy', { RoleName: 'r', PolicyName: 'another', PolicyDocument: S3_READ });
  const got = await call('GetRolePolicy', { RoleName: 'r', PolicyName: 'read' });
  assert.deepEqual(got, { roleName: 'r', policyName: 'read', document: S3_READ });
  assert.match(
    renderResponse('GetRolePolicy', ACCOUNT, got, 'x'),
    /<PolicyName>read<\/PolicyName><RoleName>r<\/RoleName><PolicyDocument>%7B%22Version%22%3A%222012-10-17%22/,
  );
  assert.deepEqual((await call('ListRolePolicies', { RoleName: 'r' })).items, ['another', 'read']);
  await fails(
    'DeleteRole',
    { RoleName: 'r' },
    'DeleteConflict',
    'Cannot delete entity, must delete policies first.',
  );
  await fails(
    'GetRolePolicy',
    { RoleName: 'r', PolicyName: 'nope' },
    'NoSuchEntity',
    'The role policy with name nope cannot be found.',
  );
  await fails(
    'PutRolePolicy',
    { RoleName: 'r', PolicyName: 'p', PolicyDocument: TRUST },
    'MalformedPolicyDocument',
    'Policy document should not specify a principal.',
  );
  const huge = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: Array.from({ length: 400 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`),
      },
    ],
  });
  await fails(
    'PutRolePolicy',
    { RoleName: 'r', PolicyName: 'huge', PolicyDocument: huge },
    'LimitExceeded',
    'Maximum policy size of 10240 bytes exceeded for role r',
  );
  await call('DeleteRolePolicy', { RoleName: 'r', PolicyName: 'read' });
  await call('DeleteRolePolicy', { RoleName: 'r', PolicyName: 'another' });
  await call('DeleteRole', { RoleName: 'r' });
});

test('managed policies: create, get, version, attach (customer and AWS managed), detach, delete', async () => {
  const { call, fails } = await setup();
  await call('CreateRole', { RoleName: 'r', AssumeRolePolicyDocument: TRUST });
  const created = await call('CreatePolicy', {
    PolicyName: 'read',
    Path: '/team/',
    PolicyDocument: S3_READ,
    Description: 'reads',
  });
  const arn = 'arn:aws:iam::111122223333:policy/team/read';
  assert.equal((created.policy as { arn: string }).arn, arn);
  await fails(
    'CreatePolicy',
    { PolicyName: 'READ', PolicyDocument: S3_READ },
    'EntityAlreadyExists',
    'A policy called READ already exists. Duplicate names are not allowed.',
  );
  await fails(
    'CreatePolicy',
    { PolicyName: 'x', Path: 'nope', PolicyDocument: S3_READ },
    'ValidationError',
    /at 'path'/,
  );
  await call('AttachRolePolicy', { RoleName: 'r', PolicyArn: arn });
  await call('AttachRolePolicy', {
    RoleName: 'r',
    PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
  });
  await fails(
    'AttachRolePolicy',
    { RoleName: 'r', PolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' },
    'NoSuchEntity',
    'Policy arn:aws:iam::aws:policy/PowerUserAccess does not exist or is not attachable.',
  );
  await fails(
    'AttachRolePolicy',
    { RoleName: 'r', PolicyArn: 'arn:aws:iam::111122223333:role/xxxxxx' },
    'InvalidInput',
    'ARN arn:aws:iam::111122223333:role/xxxxxx is not valid.',
  );
  const got = await call('GetPolicy', { PolicyArn: arn });
  assert.equal(got.attachmentCount, 1);
  const xml = renderResponse('GetPolicy', ACCOUNT, got, 'x');
  assert.match(
    xml,
    /<Policy><PolicyName>read<\/PolicyName><DefaultVersionId>v1<\/DefaultVersionId><PolicyId>ANPA[A-Z2-7]{17}<\/PolicyId><Path>\/team\/<\/Path><Arn>arn:aws:iam::111122223333:policy\/team\/read<\/Arn><AttachmentCount>1<\/AttachmentCount>/,
  );
  const v = await call('GetPolicyVersion', { PolicyArn: arn, VersionId: 'v1' });
  assert.match(renderResponse('GetPolicyVersion', ACCOUNT, v, 'x'), /<PolicyVersion><Document>%7B%22Version/);
  await fails('GetPolicyVersion', { PolicyArn: arn, VersionId: 'v2' }, 'NoSuchEntity');
  const aws = await call('GetPolicyVersion', {
    PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
    VersionId: 'v3',
  });
  assert.match(String((aws.policy as { document: string }).document), /s3:Get\*/);
  const attached = await call('ListAttachedRolePolicies', { RoleName: 'r' });
  assert.deepEqual(attached.items, [
    { arn, name: 'read', path: '/team/' },
    { arn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess', name: 'AmazonS3ReadOnlyAccess', path: '/' },
  ]);
  await fails(
    'DeletePolicy',
    { PolicyArn: arn },
    'DeleteConflict',
    'Cannot delete a policy attached to entities.',
  );
  await fails(
    'DeleteRole',
    { RoleName: 'r' },
    'DeleteConflict',
    'Cannot delete entity, must detach all policies first.',
  );
  await call('DetachRolePolicy', { RoleName: 'r', PolicyArn: arn });
  await fails('DetachRolePolicy', { RoleName: 'r', PolicyArn: arn }, 'NoSuchEntity');
  await call('DeletePolicy', { PolicyArn: arn });
  await fails('GetPolicy', { PolicyArn: arn }, 'NoSuchEntity', `Policy ${arn} was not found.`);
});

test('quota: at most 10 managed policies per role', async () => {
  const { call, fails } = await setup();
  await call('CreateRole', { RoleName: 'r', AssumeRolePolicyDocument: TRUST });
  for (let i = 0; i < 10; i++) {
    await call('CreatePolicy', { PolicyName: `p${i}`, PolicyDocument: S3_READ });
    await call('AttachRolePolicy', { RoleName: 'r', PolicyArn: `arn:aws:iam::111122223333:policy/p${i}` });
  }
  await call('CreatePolicy', { PolicyName: 'p10', PolicyDocument: S3_READ });
  await fails(
    'AttachRolePolicy',
    { RoleName: 'r', PolicyArn: 'arn:aws:iam::111122223333:policy/p10' },
    'LimitExceeded',
    'Cannot exceed quota for PoliciesPerRole: 10',
  );
});

test('deleting a seed entity leaves a tombstone; deleting an API-made one leaves nothing', async () => {
  const seed = emptyState();
  seed.roles.set('seeded', {
    name: 'seeded',
    path: '/',
    roleId: 'AROAAAAAAAAAAAAAAAAAA',
    createDate: '2026-01-01T00:00:00Z',
    trustPolicy: TRUST,
    maxSessionDuration: 3600,
    tags: [],
    inlinePolicies: [],
    attachedPolicies: [],
  });
  const { call, store } = await setup(seed);
  await call('CreateRole', { RoleName: 'made', AssumeRolePolicyDocument: TRUST });
  await call('DeleteRole', { RoleName: 'made' });
  await call('DeleteRole', { RoleName: 'seeded' });
  assert.deepEqual(
    [...store.backend.entries().values()].map((e) => e.entry),
    [{ kind: 'role', id: 'seeded', deleted: true }],
  );
  assert.equal(store.state.roles.size, 0);
});

test('UpdateRole answers an empty UpdateRoleResult (its model has an output wrapper; botocore requires it)', () => {
  assert.match(
    renderResponse('UpdateRole', ACCOUNT, {}, 'r'),
    /<UpdateRoleResponse xmlns="https:\/\/iam.amazonaws.com\/doc\/2010-05-08\/">\s*<UpdateRoleResult><\/UpdateRoleResult>/,
  );
  assert.doesNotMatch(renderResponse('DeleteRole', ACCOUNT, {}, 'r'), /DeleteRoleResult/);
});

test('ListInstanceProfilesForRole: an empty list for a role, NoSuchEntity for none (Terraform calls it before DeleteRole)', async () => {
  const { call, fails } = await setup();
  await call('CreateRole', { RoleName: 'r', AssumeRolePolicyDocument: TRUST });
  const r = await call('ListInstanceProfilesForRole', { RoleName: 'r' });
  assert.match(
    renderResponse('ListInstanceProfilesForRole', ACCOUNT, r, 'x'),
    /<ListInstanceProfilesForRoleResult><InstanceProfiles><\/InstanceProfiles><IsTruncated>false<\/IsTruncated><\/ListInstanceProfilesForRoleResult>/,
  );
  await fails('ListInstanceProfilesForRole', { RoleName: 'nope' }, 'NoSuchEntity');
});
