import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awsErrorText } from '../../../src/aws/sdk.js';

test('awsErrorText: the code and message of an AWS error; a non-AWS answer (HTML) said in words, not the parser', () => {
  assert.equal(
    awsErrorText(Object.assign(new Error('Role x not found'), { name: 'NoSuchEntityException' })),
    'NoSuchEntityException: Role x not found',
  );
  // What the SDK throws when moto's IAM, which lacks AddClientIDToOpenIDConnectProvider, answers an HTML page.
  const html = Object.assign(
    new Error(
      '@aws-sdk XML parse error: mismatched tags <html> and </title>.\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.',
    ),
    { $response: { statusCode: 500 }, $metadata: { httpStatusCode: 500 } },
  );
  const text = awsErrorText(html);
  assert.equal(
    text,
    'the endpoint answered HTTP 500 with something that is not an AWS response (does it implement this action?)',
  );
  assert.doesNotMatch(text, /\n|hidden field/);
});
