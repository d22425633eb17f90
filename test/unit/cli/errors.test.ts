// One decision of a command's exit status and one-line message for anything it throws (src/cli/errors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CliError,
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  exitStatusOf,
  failureText,
  inContext,
} from '../../../src/cli/errors.js';
import { OpenIrsaError, messageOf } from '../../../src/errors.js';
import { FileReadError } from '../../../src/file-errors.js';
import { IssuerError } from '../../../src/issuer/errors.js';
import { ConfigError } from '../../../src/sts/config.js';
import { SetupError } from '../../../src/setup/run.js';
import { StsError } from '../../../src/sts/protocol.js';
import { KubeApiError } from '../../../src/kube/lean.js';

test('exit status: the CliError says it; a bad-input code is 2; every other failure, coded or not, is 1', () => {
  assert.equal(exitStatusOf(new CliError('x')), EXIT_BAD_INPUT);
  assert.equal(exitStatusOf(new CliError('x', EXIT_FAILED)), EXIT_FAILED);
  const enoent = Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  assert.equal(exitStatusOf(new FileReadError('--config', '/nope', enoent)), EXIT_BAD_INPUT);
  assert.equal(exitStatusOf(new ConfigError('f.yaml', '$.roles', 'is required')), EXIT_BAD_INPUT);
  assert.equal(exitStatusOf(new IssuerError('KeyInvalid', 'not a key')), EXIT_BAD_INPUT);
  assert.equal(exitStatusOf(new IssuerError('FetchFailed', 'refused')), EXIT_FAILED);
  assert.equal(exitStatusOf(new SetupError('IamFailed', 'denied')), EXIT_FAILED);
  assert.equal(exitStatusOf(new StsError('AccessDenied', 'no')), EXIT_FAILED);
  assert.equal(exitStatusOf(new KubeApiError(404, '{}', 'GET x')), EXIT_FAILED);
  assert.equal(exitStatusOf(new Error('boom')), EXIT_FAILED);
  assert.equal(exitStatusOf('a string'), EXIT_FAILED);
});

test('every error is an OpenIrsaError with its code and class name; a message, never a stack', () => {
  const e = new IssuerError('UrlInvalid', 'bad url');
  assert.ok(e instanceof OpenIrsaError);
  assert.equal(e.code, 'UrlInvalid');
  assert.equal(e.name, 'IssuerError');
  assert.equal(new KubeApiError(403, 'denied', 'GET /x').code, 403, "the HTTP status, as client-node's");
  assert.equal(messageOf(e), 'bad url');
  assert.equal(messageOf(42), '42');
});

test("inContext: the command words the failure; the exit status stays the code's unless the command says", () => {
  const cause = new IssuerError('KeyInvalid', 'not a key');
  const wrapped = inContext('issuer mint: ', cause);
  assert.equal(wrapped.message, 'issuer mint: not a key');
  assert.equal(wrapped.exitCode, EXIT_BAD_INPUT);
  assert.equal(wrapped.cause, cause);
  assert.equal(inContext('cannot listen: ', new Error('EADDRINUSE'), EXIT_FAILED).exitCode, EXIT_FAILED);
});

test('failureText: one "openirsa: " line per message line, control characters never raw', () => {
  assert.equal(failureText(new CliError('bad flag')), 'openirsa: bad flag');
  assert.ok(!failureText(new CliError('evil \u001b[31m red')).includes('\u001b'));
});
