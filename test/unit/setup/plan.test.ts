import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  CREATED_BY_KEY,
  CREATED_BY_VALUE,
  PHASES,
  SetupPlanError,
  formatStep,
  trustsProvider,
  planSetup,
  providerArnOf,
  roleArnOf,
  statementSidOf,
  statementsOf,
  trustStatementOf,
  type Action,
  type Observed,
  type SetupSpec,
  type TrustPolicy,
} from '../../../src/setup/plan.js';
import { planDelete } from '../../../src/setup/plan-delete.js';
import { hclString, render, shellQuote, RenderError } from '../../../src/setup/render.js';
import { evaluateTrustPolicy } from './evaluate-helper.js';

const spec = (over: Partial<SetupSpec> = {}): SetupSpec => ({
  issuer: 'https://oidc.example.com/cluster-a',
  accountId: '111122223333',
  partition: 'aws',
  audience: 'sts.amazonaws.com',
  thumbprints: [],
  namespace: 'app',
  serviceAccount: 'web',
  namespaceWide: false,
  roleName: 'app-web',
  rolePath: '/',
  policyArns: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
  inlinePolicies: [
    {
      name: 'queue',
      document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}',
    },
  ],
  createServiceAccount: true,
  annotationPrefix: 'eks.amazonaws.com',
  ...over,
});

const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-a';
const ROLE = 'arn:aws:iam::111122223333:role/app-web';
const OTHER: TrustPolicy['Statement'] = {
  Effect: 'Allow',
  Principal: { Service: 'ec2.amazonaws.com' },
  Action: 'sts:AssumeRole',
};

/** Applies actions to an observed state as IAM and Kubernetes would: the model a second plan is made from. */
function apply(o: Observed, actions: Action[]): Observed {
  const next: Observed = structuredClone(o);
  for (const a of actions) {
    switch (a.action) {
      case 'CreateOpenIDConnectProvider':
        next.provider = {
          arn: PROVIDER,
          clientIds: a.input.ClientIDList,
          thumbprints: a.input.ThumbprintList,
          tags: Object.fromEntries(a.input.Tags.map((t) => [t.Key, t.Value])),
        };
        break;
      case 'AddClientIDToOpenIDConnectProvider':
        next.provider!.clientIds.push(a.input.ClientID);
        break;
      case 'UpdateOpenIDConnectProviderThumbprint':
        next.provider!.thumbprints = a.input.ThumbprintList;
        break;
      case 'DeleteOpenIDConnectProvider':
        delete next.provider;
        break;
      case 'CreateRole':
        next.role = {
          arn: ROLE,
          trustPolicy: JSON.parse(a.input.AssumeRolePolicyDocument) as TrustPolicy,
          tags: Object.fromEntries(a.input.Tags.map((t) => [t.Key, t.Value])),
          attachedPolicyArns: [],
          inlinePolicies: {},
        };
        break;
      case 'UpdateAssumeRolePolicy':
        next.role!.trustPolicy = JSON.parse(a.input.PolicyDocument) as TrustPolicy;
        break;
      case 'AttachRolePolicy':
        next.role!.attachedPolicyArns.push(a.input.PolicyArn);
        break;
      case 'DetachRolePolicy':
        next.role!.attachedPolicyArns = next.role!.attachedPolicyArns.filter((x) => x !== a.input.PolicyArn);
        break;
      case 'PutRolePolicy':
        next.role!.inlinePolicies[a.input.PolicyName] = a.input.PolicyDocument;
        break;
      case 'DeleteRolePolicy':
        delete next.role!.inlinePolicies[a.input.PolicyName];
        break;
      case 'DeleteRole':
        assert.equal(
          next.role!.attachedPolicyArns.length,
          0,
          'IAM refuses DeleteRole with attached policies',
        );
        assert.equal(
          Object.keys(next.role!.inlinePolicies).length,
          0,
          'IAM refuses DeleteRole with inline policies',
        );
        delete next.role;
        break;
      case 'CreateServiceAccount':
        next.serviceAccount = { annotations: { ...a.input.annotations }, labels: { ...a.input.labels } };
        break;
      case 'PatchServiceAccountAnnotations':
        for (const [k, v] of Object.entries(a.input.annotations)) {
          if (v === null) delete next.serviceAccount!.annotations[k];
          else next.serviceAccount!.annotations[k] = v;
        }
        break;
      case 'DeleteServiceAccount':
        delete next.serviceAccount;
        break;
    }
  }
  return next;
}
const allActions = (steps: { actions: Action[] }[]): Action[] => steps.flatMap((s) => s.actions);

test('plan from nothing: provider, role (trust + policies), ServiceAccount created and tagged; a second plan is all unchanged', () => {
  const s = spec();
  const steps = planSetup(s, {});
  assert.deepEqual(
    steps.map((x) => [x.phase, x.status]),
    [
      ['provider', 'create'],
      ['role', 'create'],
      ['serviceaccount', 'create'],
    ],
  );
  assert.deepEqual(
    allActions(steps).map((a) => a.action),
    [
      'CreateOpenIDConnectProvider',
      'CreateRole',
      'AttachRolePolicy',
      'PutRolePolicy',
      'CreateServiceAccount',
    ],
  );
  const create = steps[1]!.actions[0]!;
  assert.equal(create.action, 'CreateRole');
  const trust = JSON.parse(create.input.AssumeRolePolicyDocument) as TrustPolicy;
  assert.deepEqual(trust, {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: statementSidOf(s),
        Effect: 'Allow',
        Principal: { Federated: PROVIDER },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            'oidc.example.com/cluster-a:sub': 'system:serviceaccount:app:web',
            'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
          },
        },
      },
    ],
  });
  assert.deepEqual(create.input.Tags, [{ Key: CREATED_BY_KEY, Value: CREATED_BY_VALUE }]);
  const after = apply({}, allActions(steps));
  const again = planSetup(s, after);
  assert.ok(
    again.every((x) => x.status === 'unchanged' && x.actions.length === 0),
    JSON.stringify(again),
  );
  assert.match(formatStep(again[1]!), /^role +role arn:aws:iam::111122223333:role\/app-web: unchanged/);
});

test('the trust statement admits exactly the ServiceAccount with the audience (engine-checked)', () => {
  const s = spec();
  const policy = { Version: '2012-10-17', Statement: [trustStatementOf(s)] };
  const id = 'oidc.example.com/cluster-a';
  assert.equal(
    evaluateTrustPolicy(policy, PROVIDER, id, 'system:serviceaccount:app:web', 'sts.amazonaws.com'),
    true,
  );
  assert.equal(
    evaluateTrustPolicy(policy, PROVIDER, id, 'system:serviceaccount:app:other', 'sts.amazonaws.com'),
    false,
  );
  assert.equal(evaluateTrustPolicy(policy, PROVIDER, id, 'system:serviceaccount:app:web', 'other'), false);
  const wide = { Version: '2012-10-17', Statement: [trustStatementOf(spec({ namespaceWide: true }))] };
  assert.equal(
    evaluateTrustPolicy(wide, PROVIDER, id, 'system:serviceaccount:app:other', 'sts.amazonaws.com'),
    true,
  );
  assert.equal(
    evaluateTrustPolicy(wide, PROVIDER, id, 'system:serviceaccount:prod:web', 'sts.amazonaws.com'),
    false,
  );
  assert.deepEqual(Object.keys(wide.Statement[0]!.Condition!), ['StringEquals', 'StringLike']);
});

test('existing provider with other client ids and thumbprints: only what is missing is added, nothing removed', () => {
  const s = spec({ thumbprints: ['aa'.repeat(20)] });
  const observed: Observed = {
    provider: {
      arn: PROVIDER,
      clientIds: ['other-app'],
      thumbprints: ['bb'.repeat(20)],
      tags: { team: 'x' },
    },
  };
  const [p] = planSetup(s, observed, ['provider']);
  assert.equal(p!.status, 'update');
  assert.deepEqual(p!.actions, [
    {
      api: 'iam',
      action: 'AddClientIDToOpenIDConnectProvider',
      input: { OpenIDConnectProviderArn: PROVIDER, ClientID: 'sts.amazonaws.com' },
    },
    {
      api: 'iam',
      action: 'UpdateOpenIDConnectProviderThumbprint',
      input: { OpenIDConnectProviderArn: PROVIDER, ThumbprintList: ['bb'.repeat(20), 'aa'.repeat(20)] },
    },
  ]);
  // Thumbprints compare case-insensitively (IAM stores them as given).
  const same = planSetup(spec({ thumbprints: ['AA'.repeat(20)] }), apply(observed, p!.actions), ['provider']);
  assert.equal(same[0]!.status, 'unchanged');
});

test('existing role with another statement: ours is added, the other kept; policies attached once; rerun unchanged', () => {
  const s = spec();
  const observed: Observed = {
    role: {
      arn: ROLE,
      trustPolicy: { Version: '2012-10-17', Statement: [OTHER] },
      tags: {},
      attachedPolicyArns: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
      inlinePolicies: {},
    },
  };
  const [r] = planSetup(s, observed, ['role']);
  assert.equal(r!.status, 'update');
  assert.deepEqual(
    r!.actions.map((a) => a.action),
    ['UpdateAssumeRolePolicy', 'PutRolePolicy'],
  );
  const after = apply(observed, r!.actions);
  const statements = statementsOf(after.role!.trustPolicy);
  assert.deepEqual(statements[0], OTHER);
  assert.equal(statements[1]!.Sid, statementSidOf(s));
  assert.equal(planSetup(s, after, ['role'])[0]!.status, 'unchanged');
  // A changed inline policy is put again; the same one in another key order is not.
  const reordered = structuredClone(after);
  reordered.role!.inlinePolicies.queue =
    '{"Statement":[{"Resource":"*","Action":"sqs:*","Effect":"Allow"}],"Version":"2012-10-17"}';
  assert.equal(planSetup(s, reordered, ['role'])[0]!.status, 'unchanged');
  reordered.role!.inlinePolicies.queue = '{"Version":"2012-10-17","Statement":[]}';
  assert.deepEqual(
    planSetup(s, reordered, ['role'])[0]!.actions.map((a) => a.action),
    ['PutRolePolicy'],
  );
});

test('a statement of ours that drifted is replaced, not duplicated', () => {
  const s = spec();
  const drifted = {
    ...trustStatementOf(s),
    Condition: { StringEquals: { 'oidc.example.com/cluster-a:sub': 'x' } },
  };
  const observed: Observed = {
    role: {
      arn: ROLE,
      trustPolicy: { Version: '2012-10-17', Statement: [drifted, OTHER] },
      tags: {},
      attachedPolicyArns: [],
      inlinePolicies: {},
    },
  };
  const after = apply(observed, planSetup(s, observed, ['role'])[0]!.actions);
  const st = statementsOf(after.role!.trustPolicy);
  assert.equal(st.length, 2);
  assert.deepEqual(st[0], OTHER);
  assert.deepEqual(st[1], trustStatementOf(s));
});

test('refusals: a statement that fails lint, a missing ServiceAccount without --create-service-account', () => {
  assert.throws(
    () => planSetup(spec({ namespace: '*', namespaceWide: true }), {}),
    (e: unknown) =>
      e instanceof SetupPlanError &&
      e.code === 'TrustPolicyRefused' &&
      /sub-wildcard-too-wide/.test(e.message),
  );
  assert.throws(
    () => planSetup(spec({ createServiceAccount: false }), {}, ['serviceaccount']),
    (e: unknown) => e instanceof SetupPlanError && e.code === 'ServiceAccountMissing',
  );
});

test('ServiceAccount: annotated when it exists without (or with another) role; unchanged when right', () => {
  const s = spec();
  const other = {
    annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/old', keep: 'me' },
    labels: {},
  };
  const [sa] = planSetup(s, { serviceAccount: other }, ['serviceaccount']);
  assert.equal(sa!.status, 'update');
  assert.match(sa!.detail, /was arn:aws:iam::111122223333:role\/old/);
  const after = apply({ serviceAccount: other }, sa!.actions);
  assert.deepEqual(after.serviceAccount!.annotations, { 'eks.amazonaws.com/role-arn': ROLE, keep: 'me' });
  assert.equal(planSetup(s, after, ['serviceaccount'])[0]!.status, 'unchanged');
  // Another annotation prefix (the webhook's --annotation-prefix) is honoured.
  const [p] = planSetup(spec({ annotationPrefix: 'irsa.example.com' }), after, ['serviceaccount']);
  assert.deepEqual(Object.keys((p!.actions[0] as { input: { annotations: object } }).input.annotations), [
    'irsa.example.com/role-arn',
  ]);
});

test('delete after setup from nothing: everything setup created goes, in an order IAM accepts', () => {
  const s = spec();
  const created = apply({}, allActions(planSetup(s, {})));
  const steps = planDelete(s, created);
  assert.deepEqual(
    steps.map((x) => [x.phase, x.status]),
    [
      ['serviceaccount', 'delete'],
      ['role', 'delete'],
      ['provider', 'delete'],
    ],
  );
  const gone = apply(created, allActions(steps));
  assert.deepEqual(gone, {});
  assert.ok(planDelete(s, gone).every((x) => x.status === 'unchanged'));
});

test('delete after setup on existing things: only our statement and annotation go; the rest stays', () => {
  const s = spec();
  const before: Observed = {
    provider: { arn: PROVIDER, clientIds: ['other-app'], thumbprints: [], tags: {} },
    role: {
      arn: ROLE,
      trustPolicy: { Version: '2012-10-17', Statement: [OTHER] },
      tags: { team: 'x' },
      attachedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      inlinePolicies: {},
    },
    serviceAccount: { annotations: { keep: 'me' }, labels: {} },
  };
  const setUp = apply(before, allActions(planSetup(s, before)));
  const steps = planDelete(s, setUp);
  assert.deepEqual(
    steps.map((x) => [x.phase, x.status]),
    [
      ['serviceaccount', 'update'],
      ['role', 'update'],
      ['provider', 'unchanged'],
    ],
  );
  const after = apply(setUp, allActions(steps));
  assert.deepEqual(after.serviceAccount, before.serviceAccount);
  assert.deepEqual(statementsOf(after.role!.trustPolicy), [OTHER]);
  // The client id setup added to a provider others own stays: removing it could cut them off.
  assert.deepEqual(after.provider!.clientIds, ['other-app', 'sts.amazonaws.com']);
  // A role whose only statement is ours but that setup did not create keeps it (IAM needs one statement).
  const only: Observed = { role: { ...setUp.role!, trustPolicy: { Statement: [trustStatementOf(s)] } } };
  assert.equal(planDelete(s, only, ['role'])[0]!.status, 'unchanged');
});

test('delete for one of two ServiceAccounts sharing a role setup created: only its statement goes; role and provider stay', () => {
  const first = spec();
  const second = spec({ serviceAccount: 'worker' });
  const afterFirst = apply({}, allActions(planSetup(first, {})));
  const both = apply(afterFirst, allActions(planSetup(second, afterFirst)));
  assert.equal(statementsOf(both.role!.trustPolicy).length, 2);
  const steps = planDelete(first, { ...both, rolesTrustingProvider: [] });
  assert.deepEqual(
    steps.map((x) => [x.phase, x.status]),
    [
      ['serviceaccount', 'delete'],
      ['role', 'update'],
      ['provider', 'unchanged'],
    ],
  );
  assert.match(steps[1]!.detail, /created by setup but it trusts others too/);
  assert.match(steps[2]!.detail, /still trusted by role arn:aws:iam::111122223333:role\/app-web/);
  const after = apply(both, allActions(steps));
  assert.deepEqual(statementsOf(after.role!.trustPolicy), [trustStatementOf(second)]);
  assert.ok(after.provider);
  // Then the second goes too: now the role and the provider have nobody left.
  const last = planDelete(second, { ...after, rolesTrustingProvider: [] }, ['role', 'provider']);
  assert.deepEqual(
    last.map((x) => [x.phase, x.status]),
    [
      ['role', 'delete'],
      ['provider', 'delete'],
    ],
  );
});

test('delete keeps a provider setup created while another role of the account trusts it', () => {
  const s = spec();
  const created = apply({}, allActions(planSetup(s, {})));
  const other = 'arn:aws:iam::111122223333:role/another-team';
  const steps = planDelete(s, { ...created, rolesTrustingProvider: [other, ROLE] });
  assert.deepEqual(
    steps.map((x) => [x.phase, x.status]),
    [
      ['serviceaccount', 'delete'],
      ['role', 'delete'],
      ['provider', 'unchanged'],
    ],
  );
  // The role being deleted does not count; the other one does, by name.
  assert.match(steps[2]!.detail, new RegExp(`still trusted by role ${other}: kept`));
  assert.equal(trustsProvider({ Statement: [trustStatementOf(s)] }, PROVIDER), true);
  assert.equal(
    trustsProvider({ Statement: { Effect: 'Allow', Principal: { Federated: [PROVIDER] } } }, PROVIDER),
    true,
  );
  assert.equal(trustsProvider({ Statement: [OTHER as never] }, PROVIDER), false);
});

test('all phases are known and in order', () => {
  assert.deepEqual([...PHASES], ['issuer', 'provider', 'role', 'serviceaccount']);
  assert.equal(providerArnOf(spec()), PROVIDER);
  assert.equal(roleArnOf(spec({ rolePath: '/irsa/' })), 'arn:aws:iam::111122223333:role/irsa/app-web');
  assert.match(statementSidOf(spec()), /^OpenirsaSetup[0-9a-f]{16}$/);
  assert.notEqual(statementSidOf(spec()), statementSidOf(spec({ serviceAccount: 'api' })));
});

test('renderers: aws-cli quoting survives the shell; HCL escapes templates; end-state formats refuse delete', () => {
  for (const s of ["it's", '{"a":"b c"}', '$(rm -rf /)', 'plain-1', '']) {
    assert.equal(execFileSync('sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' }), s);
  }
  assert.equal(hclString('${aws:username} %{x}'), '"$${aws:username} %%{x}"');
  const s = spec();
  const created = apply({}, allActions(planSetup(s, {})));
  for (const f of ['terraform', 'cloudformation'] as const) {
    assert.throws(
      () => render(f, { spec: s, observed: created, steps: planDelete(s, created), deleting: true }),
      RenderError,
    );
  }
  const cli = render('aws-cli', { spec: s, observed: {}, steps: planSetup(s, {}) });
  assert.match(
    cli,
    /^aws iam create-open-id-connect-provider --url https:\/\/oidc\.example\.com\/cluster-a --client-id-list sts\.amazonaws\.com --tags /m,
  );
  assert.match(
    cli,
    /^kubectl annotate serviceaccount -n app web eks\.amazonaws\.com\/role-arn=arn:aws:iam::111122223333:role\/app-web$/m,
  );
  const json = JSON.parse(render('json', { spec: s, observed: {}, steps: planSetup(s, {}) })) as {
    steps: unknown[];
  };
  assert.equal(json.steps.length, 3);
});
