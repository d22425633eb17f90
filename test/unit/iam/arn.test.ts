import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  accountRootArn,
  assumedRoleArn,
  dnsSuffix,
  formatArn,
  iamUserArn,
  InvalidArnError,
  isSamlProviderArn,
  oidcProviderArn,
  parseArn,
  parseAssumedRoleArn,
  parseOidcProviderArn,
  parseRoleArn,
  partitionOfRegion,
  providerIdFromIssuer,
  roleArn,
  tryParseArn,
} from '../../../src/iam/index.js';

describe('ARNs', () => {
  it('parses the six parts; the resource keeps its colons', () => {
    const a = parseArn('arn:aws:s3:::bucket/a:b:c');
    assert.deepEqual(a, {
      partition: 'aws',
      service: 's3',
      region: '',
      account: '',
      resource: 'bucket/a:b:c',
    });
    assert.equal(formatArn(a), 'arn:aws:s3:::bucket/a:b:c');
  });
  it('rejects non-ARNs and unknown partitions', () => {
    assert.equal(tryParseArn('arn:aws:iam::1'), undefined);
    assert.equal(tryParseArn('urn:aws:iam::1:x'), undefined);
    assert.throws(() => parseArn('arn:azure:iam::111122223333:role/x'), InvalidArnError);
    assert.throws(() => parseArn('arn:aws:iam::111122223333:'), /empty resource/);
  });
  for (const partition of ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b']) {
    it(`builds and parses role, provider and session ARNs in ${partition}`, () => {
      const r = roleArn(partition, '111122223333', 's3-writer', '/team/a/');
      assert.equal(r, `arn:${partition}:iam::111122223333:role/team/a/s3-writer`);
      assert.deepEqual(parseRoleArn(r), {
        partition,
        account: '111122223333',
        path: '/team/a/',
        name: 's3-writer',
      });
      const p = oidcProviderArn(partition, '111122223333', 'https://oidc.example.com/id/ABC');
      assert.equal(p, `arn:${partition}:iam::111122223333:oidc-provider/oidc.example.com/id/ABC`);
      assert.deepEqual(parseOidcProviderArn(p), {
        partition,
        account: '111122223333',
        providerId: 'oidc.example.com/id/ABC',
        host: 'oidc.example.com',
        path: '/id/ABC',
      });
      const s = assumedRoleArn(partition, '111122223333', 's3-writer', 'sess-1');
      assert.equal(s, `arn:${partition}:sts::111122223333:assumed-role/s3-writer/sess-1`);
      assert.deepEqual(parseAssumedRoleArn(s), {
        partition,
        account: '111122223333',
        roleName: 's3-writer',
        sessionName: 'sess-1',
      });
    });
  }
  it('role ARN without a path', () => {
    assert.equal(roleArn('aws', '111122223333', 'r'), 'arn:aws:iam::111122223333:role/r');
    assert.deepEqual(parseRoleArn('arn:aws:iam::111122223333:role/r'), {
      partition: 'aws',
      account: '111122223333',
      path: '/',
      name: 'r',
    });
  });
  it('assumed-role ARNs never carry the role path', () => {
    const s = assumedRoleArn('aws', '111122223333', 'r', 'abc');
    assert.ok(!s.includes('/team/'));
    assert.equal(parseAssumedRoleArn('arn:aws:sts::111122223333:assumed-role/team/r/abc'), undefined);
  });
  it('validates names, paths, accounts and session names', () => {
    assert.throws(() => roleArn('aws', '1111', 'r'), /12-digit/);
    assert.throws(() => roleArn('aws', '111122223333', 'bad name'), /role name/);
    assert.throws(() => roleArn('aws', '111122223333', 'r', 'team'), /path/);
    assert.throws(() => roleArn('nope', '111122223333', 'r'), /partition/);
    assert.throws(() => assumedRoleArn('aws', '111122223333', 'r', 'a'), /session name/);
    assert.throws(() => assumedRoleArn('aws', '111122223333', 'r', 'a:b'), /session name/);
    assert.equal(parseRoleArn('arn:aws:iam::111122223333:user/r'), undefined);
    assert.equal(parseRoleArn('arn:aws:iam:us-east-1:111122223333:role/r'), undefined);
  });
  it('refuses the ARNs the trust decision must not accept: no service, SAML look-alikes, malformed sessions', () => {
    assert.throws(() => parseArn('arn:aws::us-east-1:111122223333:thing'), /empty service/);
    assert.throws(() => parseArn('not-an-arn'), /is not an ARN/);
    assert.equal(tryParseArn(42 as unknown as string), undefined);
    assert.equal(isSamlProviderArn('arn:aws:iam::111122223333:saml-provider/corp.idp'), true);
    for (const s of [
      'arn:aws:iam::111122223333:saml-provider/corp/idp',
      'arn:aws:iam:us-east-1:111122223333:saml-provider/corp',
      'arn:aws:sts::111122223333:saml-provider/corp',
      'arn:aws:iam::1111:saml-provider/corp',
      'arn:nope:iam::111122223333:saml-provider/corp',
      'arn:aws:iam::111122223333:oidc-provider/corp',
    ])
      assert.equal(isSamlProviderArn(s), false, s);
    for (const s of [
      'arn:aws:sts::111122223333:assumed-role/r',
      'arn:aws:sts::111122223333:assumed-role/r/s/x',
      'arn:aws:iam::111122223333:assumed-role/r/s',
      'arn:aws:sts:us-east-1:111122223333:assumed-role/r/s',
      'arn:aws:sts::11112222333:assumed-role/r/s',
    ])
      assert.equal(parseAssumedRoleArn(s), undefined, s);
    assert.equal(parseRoleArn('arn:aws:iam::111122223333:role/bad name'), undefined);
    assert.equal(parseRoleArn('arn:aws:iam::111122223333:role/a b/r'), undefined);
  });
  it('user ARNs are checked as role ARNs are; regions name their partition', () => {
    assert.equal(iamUserArn('aws', '111122223333', 'admin'), 'arn:aws:iam::111122223333:user/admin');
    assert.equal(
      iamUserArn('aws-cn', '111122223333', 'a', '/ops/'),
      'arn:aws-cn:iam::111122223333:user/ops/a',
    );
    assert.throws(() => iamUserArn('aws', '111122223333', 'bad name'), /not a valid user name/);
    assert.throws(() => iamUserArn('aws', '1', 'a'), /12-digit/);
    assert.throws(() => accountRootArn('nope', '111122223333'), /unknown partition "nope"/);
    assert.equal(partitionOfRegion('eu-west-1'), 'aws');
    assert.equal(partitionOfRegion('cn-north-1'), 'aws-cn');
    assert.equal(partitionOfRegion('us-gov-west-1'), 'aws-us-gov');
    assert.equal(partitionOfRegion('us-east-1x'), undefined);
    assert.equal(partitionOfRegion(''), undefined);
  });
  it('provider ids keep path and trailing slash', () => {
    assert.equal(providerIdFromIssuer('https://auth-dev.mozilla.auth0.com/'), 'auth-dev.mozilla.auth0.com/');
    const p = parseOidcProviderArn(
      oidcProviderArn('aws', '111122223333', 'https://auth-dev.mozilla.auth0.com/'),
    )!;
    assert.equal(p.providerId, 'auth-dev.mozilla.auth0.com/');
    assert.equal(parseOidcProviderArn('arn:aws:iam::111122223333:oidc-provider/'), undefined);
    assert.equal(parseOidcProviderArn('arn:aws:iam::111122223333:saml-provider/x'), undefined);
  });
  it('account root and partition DNS suffixes', () => {
    assert.equal(accountRootArn('aws-cn', '111122223333'), 'arn:aws-cn:iam::111122223333:root');
    assert.equal(dnsSuffix('aws-cn'), 'amazonaws.com.cn');
    assert.equal(dnsSuffix('aws-us-gov'), 'amazonaws.com');
  });
});
