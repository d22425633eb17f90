/* eslint-disable no-control-regex -- these tests look for control characters */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ERROR_STATUS,
  MSG,
  StsError,
  checkInteger,
  parseParams,
  renderCallerIdentity,
  renderCallerIdentityJson,
  renderError,
  renderWebIdentity,
  validationError,
  isoSeconds,
  type Violation,
} from '../../../src/sts/protocol.js';
import { readWebIdentityParams } from '../../../src/sts/web-identity.js';

const creds = {
  accessKeyId: 'ASIA2AVYNEVM4ZT5P2UW',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
  sessionToken: 'tok+en/==',
  expiration: '2014-10-24T23:00:23Z',
};

test('AssumeRoleWithWebIdentity success XML, byte for byte; no PackedPolicySize or SourceIdentity unless given', () => {
  const xml = renderWebIdentity(
    {
      subject: 'system:serviceaccount:default:app',
      audience: 'sts.amazonaws.com',
      provider: 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/X',
      arn: 'arn:aws:sts::111122223333:assumed-role/my-role/my-session',
      assumedRoleId: 'AROA2AVYNEVMZEZ2AFVYI:my-session',
      credentials: creds,
    },
    'req-1',
  );
  assert.equal(
    xml,
    '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n' +
      '  <AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:serviceaccount:default:app</SubjectFromWebIdentityToken>' +
      '<Audience>sts.amazonaws.com</Audience><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/my-role/my-session</Arn>' +
      '<AssumedRoleId>AROA2AVYNEVMZEZ2AFVYI:my-session</AssumedRoleId></AssumedRoleUser><Credentials>' +
      '<SessionToken>tok+en/==</SessionToken><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>' +
      '<Expiration>2014-10-24T23:00:23Z</Expiration><AccessKeyId>ASIA2AVYNEVM4ZT5P2UW</AccessKeyId></Credentials>' +
      '<Provider>arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/X</Provider></AssumeRoleWithWebIdentityResult>\n' +
      '  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n',
  );
  const withExtras = renderWebIdentity(
    {
      subject: 's<&>',
      audience: 'a',
      provider: 'p',
      arn: 'x',
      assumedRoleId: 'y',
      credentials: creds,
      sourceIdentity: 'Admin',
      packedPolicySize: 6,
    },
    'r',
  );
  assert.match(
    withExtras,
    /<SourceIdentity>Admin<\/SourceIdentity><Provider>p<\/Provider><PackedPolicySize>6<\/PackedPolicySize>/,
  );
  assert.match(withExtras, /<SubjectFromWebIdentityToken>s&lt;&amp;&gt;<\/SubjectFromWebIdentityToken>/);
});

test('error XML, byte for byte, with AWS double-spaced key-retrieval message', () => {
  const xml = renderError(
    new StsError('InvalidIdentityToken', MSG.keyRetrieval),
    '00000000-0000-0000-0000-000000000000',
  );
  assert.equal(
    xml,
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>Sender</Type>\n' +
      '    <Code>InvalidIdentityToken</Code>\n' +
      "    <Message>Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements</Message>\n" +
      '  </Error>\n  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>\n</ErrorResponse>\n',
  );
  assert.match(renderError(new StsError('InternalFailure', MSG.internal), 'r'), /<Type>Receiver<\/Type>/);
});

test('error XML stays well-formed when the message quotes control characters from a parameter (issue 10 item 8)', () => {
  const err = validationError([
    {
      field: 'roleSessionName',
      value: 'a\u0000b\u001b[31m\r<x>',
      constraint: 'Member must satisfy regular expression pattern: [\\w+=,.@-]*',
    },
  ]);
  const xml = renderError(err, 'r1');
  assert.match(
    xml,
    /<Message>1 validation error detected: Value 'a\\u0000b\\u001B\[31m&#xD;&lt;x&gt;' at 'roleSessionName'/,
  );
  assert.match(xml, /^[\u0009\u000a\u0020-\ud7ff\ue000-\ufffd]*$/u, 'only XML 1.0 characters');
});

test('status of every code', () => {
  assert.equal(new StsError('AccessDenied', 'x').status, 403);
  assert.equal(new StsError('IDPRejectedClaim', 'x').status, 403);
  assert.equal(new StsError('ExpiredTokenException', 'x').status, 400);
  assert.equal(new StsError('InvalidClientTokenId', 'x').status, 403);
  for (const [code, status] of Object.entries(ERROR_STATUS)) assert.ok(status >= 400 && status < 600, code);
});

test('GetCallerIdentity XML and JSON forms', () => {
  const id = {
    arn: 'arn:aws:sts::111122223333:assumed-role/r/s',
    userId: 'AROAEXAMPLE:s',
    account: '111122223333',
  };
  assert.equal(
    renderCallerIdentity(id, 'q'),
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <GetCallerIdentityResult>' +
      '<Arn>arn:aws:sts::111122223333:assumed-role/r/s</Arn><UserId>AROAEXAMPLE:s</UserId><Account>111122223333</Account>' +
      '</GetCallerIdentityResult>\n  <ResponseMetadata><RequestId>q</RequestId></ResponseMetadata>\n</GetCallerIdentityResponse>\n',
  );
  assert.deepEqual(JSON.parse(renderCallerIdentityJson(id, 'q')), {
    GetCallerIdentityResponse: {
      GetCallerIdentityResult: { Arn: id.arn, UserId: id.userId, Account: id.account },
      ResponseMetadata: { RequestId: 'q' },
    },
  });
});

test('validation messages in AWS wording, several joined', () => {
  const v: Violation[] = [
    {
      field: 'roleSessionName',
      value: 'Session1:2',
      constraint: 'Member must satisfy regular expression pattern: [\\w+=,.@-]*',
    },
    { field: 'roleArn', value: undefined, constraint: 'Member must not be null' },
  ];
  assert.equal(
    validationError(v).message,
    "2 validation errors detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
  );
});

function paramsError(over: Record<string, string | undefined>): string {
  const base: Record<string, string> = {
    RoleArn: 'arn:aws:iam::111122223333:role/r',
    RoleSessionName: 'ok-session',
    WebIdentityToken: 'a.b.c.d',
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  try {
    readWebIdentityParams(parseParams(new URLSearchParams(base).toString()));
    return 'ok';
  } catch (err) {
    return (err as StsError).message;
  }
}

test('AssumeRoleWithWebIdentity parameter constraints', () => {
  assert.equal(paramsError({}), 'ok');
  assert.equal(
    paramsError({ RoleSessionName: 'Session1:2' }),
    "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
  );
  assert.equal(
    paramsError({ RoleSessionName: 'x' }),
    "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
  );
  assert.match(
    paramsError({ RoleSessionName: 'x'.repeat(65) }),
    /Member must have length less than or equal to 64$/,
  );
  assert.equal(
    paramsError({ RoleArn: undefined }),
    "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
  );
  assert.match(
    paramsError({ RoleArn: 'arn:aws:iam::1:r' }),
    /at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20/,
  );
  assert.equal(
    paramsError({ DurationSeconds: '600' }),
    "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
  );
  assert.equal(
    paramsError({ DurationSeconds: '43201' }),
    "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
  );
  assert.match(paramsError({ DurationSeconds: 'abc' }), /Member must be an integer/);
  assert.match(
    paramsError({ Policy: 'x'.repeat(2049) }),
    /at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048/,
  );
  assert.match(
    paramsError({ Policy: '{"a":"\u0100"}' }),
    /at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  );
  const arns: Record<string, string> = {};
  for (let i = 1; i <= 11; i++) arns[`PolicyArns.member.${i}.arn`] = `arn:aws:iam::111122223333:policy/p${i}`;
  assert.match(
    paramsError(arns),
    /at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10/,
  );
  assert.match(paramsError({ RoleSessionName: 'x', RoleArn: undefined }), /^2 validation errors detected: /);
  assert.match(paramsError({ WebIdentityToken: undefined }), /Value null at 'webIdentityToken'/);
});

test('parseParams keeps the first of repeated names; checkInteger rejects junk', () => {
  const p = parseParams('A=1&A=2', 'A=3&B=4');
  assert.equal(p.get('A'), '1');
  assert.equal(p.get('B'), '4');
  const out: Violation[] = [];
  assert.equal(checkInteger(new Map([['D', '1e3']]), 'D', 'd', 0, 10, out), undefined);
  assert.equal(out.length, 1);
});

test('isoSeconds drops milliseconds', () => {
  assert.equal(isoSeconds(Date.UTC(2014, 9, 24, 23, 0, 23, 999)), '2014-10-24T23:00:23Z');
});
