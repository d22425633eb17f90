import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectivePermission,
  parsePolicy,
  type NamedPolicy,
  type ResourceGrant,
} from '../../../src/iam/index.js';

const ctx = {
  action: 'sts:AssumeRole',
  resource: 'arn:aws:iam::111122223333:role/target',
  conditionKeys: {},
};
const policy = (name: string, effect: 'Allow' | 'Deny', action: string): NamedPolicy => ({
  name,
  document: parsePolicy(
    { Version: '2012-10-17', Statement: [{ Effect: effect, Action: action, Resource: '*' }] },
    'identity',
  ),
});

/** Each layer's own verdict on ctx: what its policies say. */
type Layer = 'allow' | 'deny' | 'silent';
const layers: Record<Layer, NamedPolicy[]> = {
  allow: [policy('a', 'Allow', 'sts:AssumeRole')],
  deny: [policy('a', 'Allow', '*'), policy('d', 'Deny', 'sts:*')],
  silent: [policy('s', 'Allow', 's3:GetObject')],
};

test('effective permission: every combination of identity, session policies and resource grant', () => {
  const rows: Array<[Layer | 'empty', Layer | 'none', ResourceGrant, string]> = [
    // identity, session, grant → decision (deniedBy)
    ['allow', 'none', 'none', 'Allow'],
    ['silent', 'none', 'none', 'ImplicitDeny identity'],
    ['empty', 'none', 'none', 'ImplicitDeny identity'],
    ['deny', 'none', 'none', 'ExplicitDeny identity'],
    ['silent', 'none', 'principal', 'Allow'],
    ['silent', 'none', 'session', 'Allow'],
    ['deny', 'none', 'principal', 'ExplicitDeny identity'],
    ['deny', 'none', 'session', 'ExplicitDeny identity'],
    ['allow', 'allow', 'none', 'Allow'],
    ['allow', 'silent', 'none', 'ImplicitDeny session'],
    ['allow', 'deny', 'none', 'ExplicitDeny session'],
    ['silent', 'allow', 'none', 'ImplicitDeny identity'],
    ['silent', 'deny', 'none', 'ExplicitDeny session'],
    ['deny', 'deny', 'none', 'ExplicitDeny identity'],
    ['silent', 'allow', 'principal', 'Allow'],
    ['silent', 'silent', 'principal', 'ImplicitDeny session'],
    ['silent', 'deny', 'principal', 'ExplicitDeny session'],
    ['silent', 'silent', 'session', 'Allow'],
    ['silent', 'deny', 'session', 'ExplicitDeny session'],
    ['allow', 'deny', 'session', 'ExplicitDeny session'],
  ];
  for (const [identity, session, grant, want] of rows) {
    const r = effectivePermission(
      {
        identity: identity === 'empty' ? [] : layers[identity],
        session: session === 'none' ? undefined : layers[session],
        resourceGrant: grant,
      },
      ctx,
    );
    assert.equal(
      `${r.decision}${r.deniedBy ? ` ${r.deniedBy}` : ''}`,
      want,
      `${identity} ${session} ${grant}`,
    );
    assert.equal(
      r.session === undefined,
      session === 'none',
      'session evaluation present iff session policies',
    );
  }
  // An empty session policy list (a PolicyArns entry no longer declared) allows nothing: fail closed.
  assert.equal(effectivePermission({ identity: layers.allow, session: [] }, ctx).decision, 'ImplicitDeny');
  assert.equal(effectivePermission({ identity: layers.allow }, ctx).decision, 'Allow', 'default grant: none');
});
