import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutatePod, containersToSkip, tokenFilePath, isWindowsPod } from '../../../src/webhook/mutate.js';
import {
  applyAdds,
  cc,
  config,
  deepFreeze,
  envOf,
  irsa,
  ops,
  pod,
  ROLE,
  TOKEN_FILE,
} from '../../helpers/webhook-mutate.js';

const zero = (): number => 0;
const names = (env: Array<Record<string, unknown>>): unknown[] => env.map((e) => e.name);

test('IRSA on a bare pod: the exact reference patch (volume, env pair, mount, resources {})', () => {
  const r = mutatePod(pod(), 'ns', irsa(), config(), zero);
  assert.equal(
    r.patchJson,
    '[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":' +
      '{"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers",' +
      '"value":[{"name":"app","image":"busybox","env":[{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111122223333:role/s3-reader"},' +
      '{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],"resources":{},' +
      '"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]',
  );
  assert.equal(r.changed, true);
  assert.equal(r.method, 'sts_web_identity');
  assert.deepEqual(r.warnings, []);
  assert.equal(r.patch?.length, 2);
});

test('no identity, or a role ARN of "", gives no patch', () => {
  for (const lookup of [
    { mode: 'none', reason: 'not-found' } as const,
    { mode: 'none', reason: 'no-role' } as const,
    irsa({ roleArn: '' }),
  ]) {
    const r = mutatePod(pod(), 'ns', lookup, config(), zero);
    assert.equal(r.patchJson, undefined);
    assert.equal(r.patch, undefined);
    assert.equal(r.changed, false);
    assert.equal(r.method, undefined);
  }
});

test('token expiration: pod annotation > lookup (SA annotation or flag), parsed like strconv.ParseInt, clamped to >= 600', () => {
  const K = 'eks.amazonaws.com/token-expiration';
  const rows: Array<[string | undefined, number, number, RegExp | undefined]> = [
    // [pod annotation, lookup value, expected expirationSeconds, expected warning]
    [undefined, 3600, 3600, undefined],
    ['7200', 3600, 7200, undefined],
    ['+7200', 3600, 7200, undefined],
    ['600', 3600, 600, undefined],
    ['599', 3600, 600, /below the minimum of 600/],
    ['0', 3600, 600, /below the minimum/],
    ['-5', 3600, 600, /below the minimum/],
    ['abc', 3600, 3600, /is not an integer; using 3600/],
    [' 7200', 3600, 3600, /not an integer/],
    ['1e4', 3600, 3600, /not an integer/],
    ['', 3600, 3600, /not an integer/],
    ['9223372036854775808', 3600, 3600, /not an integer/],
    ['100000000', 3600, 100000000, undefined], // no upper clamp
  ];
  for (const [ann, fromLookup, want, warn] of rows) {
    const annotations = ann === undefined ? {} : { [K]: ann };
    const r = mutatePod(
      pod({}, { annotations }),
      'ns',
      irsa({ tokenExpiration: fromLookup }),
      config(),
      zero,
    );
    const vol = ops(r.patchJson)[0]?.value as Array<{
      projected: { sources: Array<{ serviceAccountToken: unknown }> };
    }>;
    const sat = vol[0]?.projected.sources[0]?.serviceAccountToken as { expirationSeconds: number };
    assert.equal(sat.expirationSeconds, want, `annotation ${String(ann)}`);
    if (warn === undefined) assert.deepEqual(r.warnings, [], `annotation ${String(ann)}`);
    else assert.match(r.warnings.join('\n'), warn, `annotation ${String(ann)}`);
  }
});

test('the annotation prefix is configurable and other prefixes are ignored', () => {
  const annotations = {
    'example.com/token-expiration': '1234',
    'eks.amazonaws.com/token-expiration': '4321',
  };
  const r = mutatePod(
    pod({}, { annotations }),
    'ns',
    irsa(),
    config({ annotationPrefix: 'example.com' }),
    zero,
  );
  assert.match(r.patchJson ?? '', /"expirationSeconds":1234,/);
});

test('audience: the lookup value is used; "" omits it from the projection (ConfigMap entries)', () => {
  assert.match(
    mutatePod(pod(), 'ns', irsa({ audience: 'custom' }), config(), zero).patchJson ?? '',
    /"audience":"custom"/,
  );
  const r = mutatePod(pod(), 'ns', irsa({ audience: '' }), config(), zero);
  assert.match(r.patchJson ?? '', /"serviceAccountToken":\{"expirationSeconds":86400,"path":"token"\}/);
});

test('env order: STS regional, then region pair, then the identity pair; existing entries are kept first', () => {
  const p = pod({ containers: [{ name: 'a', env: [{ name: 'X', value: '1' }] }] });
  const r = mutatePod(
    p,
    'ns',
    irsa({ useRegionalSts: true }),
    config({ awsDefaultRegion: 'eu-west-1' }),
    zero,
  );
  assert.deepEqual(envOf(r.patchJson), [
    { name: 'X', value: '1' },
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' },
    { name: 'AWS_REGION', value: 'eu-west-1' },
    { name: 'AWS_ROLE_ARN', value: ROLE },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE },
  ]);
});

test('all-or-nothing pairs: one variable of a pair present means the other is not added', () => {
  const rows: Array<[string, string[], string[]]> = [
    // [present env, region flag "r", expected env names after]
    ['AWS_ROLE_ARN', ['AWS_ROLE_ARN', 'AWS_DEFAULT_REGION', 'AWS_REGION'], []],
    ['AWS_WEB_IDENTITY_TOKEN_FILE', ['AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_DEFAULT_REGION', 'AWS_REGION'], []],
    ['AWS_REGION', ['AWS_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'], []],
    ['AWS_DEFAULT_REGION', ['AWS_DEFAULT_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'], []],
  ];
  for (const [present, want] of rows) {
    const p = pod({ containers: [{ name: 'a', env: [{ name: present, value: 'user' }] }] });
    const r = mutatePod(p, 'ns', irsa(), config({ awsDefaultRegion: 'r' }), zero);
    assert.deepEqual(names(envOf(r.patchJson)), want, present);
  }
});

test('envFrom is not looked at (reference #248)', () => {
  const p = pod({ containers: [{ name: 'a', envFrom: [{ configMapRef: { name: 'aws' } }] }] });
  assert.deepEqual(names(envOf(mutatePod(p, 'ns', irsa(), config(), zero).patchJson)), [
    'AWS_ROLE_ARN',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
  ]);
});

test('early exit: identity + region + STS all present leaves the container untouched, without a mount', () => {
  const env = [
    { name: 'AWS_ROLE_ARN', value: 'x' },
    { name: 'AWS_REGION', value: 'r' },
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' },
  ];
  const p = pod({ containers: [{ name: 'a', env }] });
  const r = mutatePod(p, 'ns', irsa({ useRegionalSts: true }), config({ awsDefaultRegion: 'other' }), zero);
  const containers = ops(r.patchJson).find((o) => o.path === '/spec/containers')?.value as Array<
    Record<string, unknown>
  >;
  assert.deepEqual(containers[0], { name: 'a', env, resources: {} });
  // the volume is still added and the containers op is still sent (the reference always sends it)
  assert.equal(ops(r.patchJson)[0]?.path, '/spec/volumes');
  // without STS defined the container is mutated: only the mount is missing
  const p2 = pod({ containers: [{ name: 'a', env: env.slice(0, 2) }] });
  const r2 = mutatePod(p2, 'ns', irsa(), config({ awsDefaultRegion: 'other' }), zero);
  assert.match(r2.patchJson ?? '', /"volumeMounts":\[\{"name":"aws-iam-token","readOnly":true/);
  assert.deepEqual(names(envOf(r2.patchJson)), ['AWS_ROLE_ARN', 'AWS_REGION']);
});

test('STS regional env only when the lookup says so and it is not already set', () => {
  assert.deepEqual(
    names(envOf(mutatePod(pod(), 'ns', irsa({ useRegionalSts: false }), config(), zero).patchJson)),
    ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'],
  );
  const p = pod({
    containers: [{ name: 'a', env: [{ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' }] }],
  });
  const env = envOf(mutatePod(p, 'ns', irsa({ useRegionalSts: true }), config(), zero).patchJson);
  assert.deepEqual(env[0], { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' });
  assert.equal(env.length, 3);
});

test('volumes: absent/null → /spec/volumes; [] or others → inserted at /spec/volumes/0; same name → nothing', () => {
  const first = (spec: Record<string, unknown>): { op: string; path: string } | undefined =>
    ops(mutatePod(pod(spec), 'ns', irsa(), config(), zero).patchJson)[0];
  assert.equal(first({})?.path, '/spec/volumes');
  assert.equal(first({ volumes: null })?.path, '/spec/volumes');
  assert.equal(first({ volumes: [] })?.path, '/spec/volumes/0');
  assert.equal(first({ volumes: [{ name: 'data', emptyDir: {} }] })?.path, '/spec/volumes/0');
  assert.equal(
    first({ volumes: [{ name: 'aws-iam-token', hostPath: { path: '/x' } }] })?.path,
    '/spec/containers',
  );
});

test('mounts are matched by name: an existing aws-iam-token mount (any path) is kept, env still points at the flag path', () => {
  const p = pod({
    containers: [{ name: 'a', volumeMounts: [{ name: 'aws-iam-token', mountPath: '/elsewhere' }] }],
  });
  const r = mutatePod(p, 'ns', irsa(), config(), zero);
  const c = (
    ops(r.patchJson).find((o) => o.path === '/spec/containers')?.value as Array<Record<string, unknown>>
  )[0];
  assert.deepEqual(c?.volumeMounts, [{ name: 'aws-iam-token', mountPath: '/elsewhere' }]);
  assert.equal(envOf(r.patchJson)[1]?.value, TOKEN_FILE);
});

test('init containers, native sidecars included, are mutated; ephemeral containers are not', () => {
  const p = pod({
    initContainers: [
      { name: 'init', image: 'i' },
      { name: 'sidecar', image: 's', restartPolicy: 'Always' },
    ],
    ephemeralContainers: [{ name: 'debug', image: 'd' }],
  });
  const r = mutatePod(p, 'ns', irsa(), config(), zero);
  const o = ops(r.patchJson);
  assert.deepEqual(
    o.map((x) => x.path),
    ['/spec/volumes', '/spec/containers', '/spec/initContainers'],
  );
  const inits = o[2]?.value as Array<Record<string, unknown>>;
  assert.equal(inits[1]?.restartPolicy, 'Always');
  assert.deepEqual(names(inits[1]?.env as Array<Record<string, unknown>>), [
    'AWS_ROLE_ARN',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
  ]);
  assert.doesNotMatch(r.patchJson ?? '', /debug/);
  // an empty initContainers list gets no op
  assert.equal(ops(mutatePod(pod({ initContainers: [] }), 'ns', irsa(), config(), zero).patchJson).length, 2);
});

test('skip-containers: Go encoding/csv first record, no trimming, quotes honoured; a parse error skips nothing', () => {
  const rows: Array<[string | undefined, string[], boolean]> = [
    [undefined, [], false],
    ['a', ['a'], false],
    ['a,b', ['a', 'b'], false],
    ['a, b', ['a', ' b'], false],
    ['"a,b",c', ['a,b', 'c'], false],
    ['"a""b"', ['a"b'], false],
    ['a,', ['a', ''], false],
    ['\nfirst\nsecond', ['first'], false],
    ['a\r\nb', ['a'], false],
    ['"multi\nline",x', ['multi\nline', 'x'], false],
    ['', [], true],
    ['\n', [], true],
    ['"', [], true],
    ['a"b', [], true],
    ['"a"b', [], true],
    [' "a"', [], true],
    ['"unterminated', [], true],
  ];
  for (const [value, want, invalid] of rows) {
    const got = containersToSkip(value);
    assert.deepEqual([...got.names], want, JSON.stringify(value));
    assert.equal(got.invalid, invalid, JSON.stringify(value));
  }
});

test('skipped containers (regular and init) are re-serialised but not mutated; an invalid annotation warns', () => {
  const p = pod(
    {
      containers: [
        { name: 'sidecar', image: 'x' },
        { name: 'app', image: 'y' },
      ],
      initContainers: [{ name: 'init', image: 'z' }],
    },
    { annotations: { 'eks.amazonaws.com/skip-containers': 'sidecar,init' } },
  );
  const r = mutatePod(p, 'ns', irsa(), config(), zero);
  const o = ops(r.patchJson);
  assert.deepEqual((o[1]?.value as unknown[])[0], { name: 'sidecar', image: 'x', resources: {} });
  assert.deepEqual((o[2]?.value as unknown[])[0], { name: 'init', image: 'z', resources: {} });
  assert.equal(names(envOf(r.patchJson, 1)).length, 2);
  const bad = pod({}, { annotations: { 'eks.amazonaws.com/skip-containers': 'a"b' } });
  const rb = mutatePod(bad, 'ns', irsa(), config(), zero);
  assert.match(rb.warnings.join(), /skip-containers.*not valid CSV/);
  assert.equal(names(envOf(rb.patchJson)).length, 2);
});

test('token file path: Go filepath.Join/Clean, Windows form from nodeSelector (both keys) or spec.os.name', () => {
  const rows: Array<[string, string, boolean, string]> = [
    ['/var/run/secrets/eks.amazonaws.com/serviceaccount', 'token', false, TOKEN_FILE],
    ['/a/b/', 'token', false, '/a/b/token'],
    ['', 'token', false, 'token'],
    ['/a//b/./c/..', 'token', false, '/a/b/token'],
    ['/a', '../t', false, '/t'],
    ['/', '', false, '/'],
    ['', '', false, ''],
    ['rel/', './x', false, 'rel/x'],
    ['/a/b', 'token', true, 'C:\\a\\b\\token'],
  ];
  for (const [mount, file, win, want] of rows)
    assert.equal(tokenFilePath(mount, file, win), want, `${mount} + ${file}`);
  assert.equal(isWindowsPod({ nodeSelector: { 'kubernetes.io/os': 'windows' } }), true);
  assert.equal(isWindowsPod({ nodeSelector: { 'beta.kubernetes.io/os': 'windows' } }), true);
  assert.equal(isWindowsPod({ nodeSelector: { 'kubernetes.io/os': 'Windows' } }), false);
  assert.equal(isWindowsPod({ os: { name: 'windows' } }), true);
  assert.equal(isWindowsPod({ os: { name: 'linux' } }), false);
  assert.equal(isWindowsPod({}), false);
  const r = mutatePod(pod({ os: { name: 'windows' } }), 'ns', irsa(), config(), zero);
  assert.equal(
    envOf(r.patchJson)[1]?.value,
    'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token',
  );
  // the mount itself stays in Unix form
  assert.match(r.patchJson ?? '', /"mountPath":"\/var\/run\/secrets\/eks.amazonaws.com\/serviceaccount"/);
});

test('container-credentials mode: label, CC volume/env, role ARN and SA audience ignored, STS + region applied', () => {
  const cfg = config({ awsDefaultRegion: 'us-east-1' });
  const r = mutatePod(pod(), 'ns', cc(true, 10000), cfg, zero);
  assert.equal(r.method, 'container_credentials');
  const o = ops(r.patchJson);
  assert.deepEqual(o[0], {
    op: 'add',
    path: '/metadata/labels',
    value: { 'eks.amazonaws.com/pod-identity': 'enabled' },
  });
  assert.deepEqual(o[1]?.value, [
    {
      name: 'eks-pod-identity-token',
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: 'pods.eks.amazonaws.com',
              expirationSeconds: 10000,
              path: 'eks-pod-identity-token',
            },
          },
        ],
      },
    },
  ]);
  assert.deepEqual(envOf(r.patchJson), [
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_DEFAULT_REGION', value: 'us-east-1' },
    { name: 'AWS_REGION', value: 'us-east-1' },
    { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
    {
      name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
      value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    },
  ]);
  // existing labels ({} included) get the label by key
  for (const labels of [{}, { app: 'x' }]) {
    const r2 = mutatePod(pod({}, { labels }), 'ns', cc(), cfg, zero);
    assert.deepEqual(ops(r2.patchJson)[0], {
      op: 'add',
      path: '/metadata/labels/eks.amazonaws.com~1pod-identity',
      value: 'enabled',
    });
  }
  // IRSA variables are neither checked nor removed in this mode
  const p = pod({ containers: [{ name: 'a', env: [{ name: 'AWS_ROLE_ARN', value: 'x' }] }] });
  assert.deepEqual(names(envOf(mutatePod(p, 'ns', cc(), config(), zero).patchJson)), [
    'AWS_ROLE_ARN',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  ]);
});

test('jitter: container-credentials mode turns exactly 86400 into 79200 + floor(random*7201), within [79200, 86400]', () => {
  const secs = (lookupExp: number, random: number, annotations: Record<string, string> = {}): number => {
    const r = mutatePod(pod({}, { annotations }), 'ns', cc(false, lookupExp), config(), () => random);
    const m = /"expirationSeconds":(\d+)/.exec(r.patchJson ?? '');
    return Number(m?.[1]);
  };
  assert.equal(secs(86400, 0), 79200);
  assert.equal(secs(86400, 0.5), 79200 + 3600);
  assert.equal(secs(86400, 0.9999999999), 86400);
  for (let i = 0; i < 200; i++) {
    const v = secs(86400, Math.random());
    assert.ok(v >= 79200 && v <= 86400, String(v));
  }
  // a misbehaving random source stays in range
  assert.equal(secs(86400, 1), 86400);
  assert.equal(secs(86400, -3), 79200);
  assert.equal(secs(86400, Number.NaN), 79200);
  // only exactly 86400 is jittered, even when it came from the pod annotation
  assert.equal(secs(86399, 0), 86399);
  assert.equal(secs(3600, 0, { 'eks.amazonaws.com/token-expiration': '86400' }), 79200);
  // IRSA mode never jitters
  const irsaResult = mutatePod(pod(), 'ns', irsa(), config(), () => 0.5);
  assert.match(irsaResult.patchJson ?? '', /"expirationSeconds":86400/);
});

test('an empty --container-credentials-full-uri behaves as the reference: the IRSA pair with an empty role ARN', () => {
  const cfg = config({ containerCredentials: { ...config().containerCredentials, fullUri: '' } });
  // Go's omitempty drops the empty value
  assert.deepEqual(envOf(mutatePod(pod(), 'ns', cc(), cfg, zero).patchJson), [
    { name: 'AWS_ROLE_ARN' },
    {
      name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
      value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    },
  ]);
});

test('role ARN: a malformed one warns and is still used; a valid one does not warn', () => {
  const rows: Array<[string, boolean]> = [
    ['arn:aws:iam::111122223333:role/s3-reader', false],
    ['arn:aws-cn:iam::111122223333:role/path/name.with@chars+=,-_', false],
    ['arn:aws-us-gov:iam::111122223333:role/x', false],
    ['s3-reader', true],
    ['arn:aws:iam::1111:role/x', true],
    ['arn:aws:iam::111122223333:user/x', true],
    ['arn:aws:iam::111122223333:role/has space', true],
    ['arn:aws:iam::111122223333:role/x\n', true],
  ];
  for (const [arn, warns] of rows) {
    const r = mutatePod(pod(), 'ns', irsa({ roleArn: arn }), config(), zero);
    assert.equal(r.warnings.length > 0, warns, arn);
    assert.equal(envOf(r.patchJson)[0]?.value, arn);
  }
});

test('unknown container fields are preserved after the known ones, in init and regular containers (#208, #84)', () => {
  const future = { futureField: { b: 1, a: [true, null] }, anotherOne: 'x<y' };
  const p = pod({
    containers: [
      { ...future, name: 'a', image: 'i', startupProbe: { exec: { command: ['ok'] }, futureProbeField: 2 } },
    ],
    initContainers: [
      { name: 'b', ...future, resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired', x: 1 }] },
    ],
  });
  const r = mutatePod(p, 'ns', irsa(), config(), zero);
  const json = r.patchJson ?? '';
  assert.match(
    json,
    /"startupProbe":\{"exec":\{"command":\["ok"\]\},"futureProbeField":2\},"futureField":\{"b":1,"a":\[true,null\]\},"anotherOne":"x\\u003cy"\}/,
  );
  assert.match(json, /"resizePolicy":\[\{"resourceName":"cpu","restartPolicy":"NotRequired","x":1\}\]/);
  assert.match(
    json,
    /"volumeMounts":\[[^\]]*\],"futureField":\{"b":1,"a":\[true,null\]\},"anotherOne":"x\\u003cy"\}\]\}\]$/,
  );
});

test('idempotent: a second mutation of the patched pod changes nothing (IRSA and container-credentials)', () => {
  const base = pod(
    {
      volumes: [{ name: 'data', emptyDir: {} }],
      initContainers: [{ name: 'sidecar', image: 's', restartPolicy: 'Always' }],
      containers: [
        { name: 'a', image: 'i', futureField: 1 },
        { name: 'b', image: 'j', env: [{ name: 'AWS_REGION', value: 'x' }] },
      ],
    },
    { labels: { app: 'x' } },
  );
  const cases: Array<[string, ReturnType<typeof irsa>, ReturnType<typeof config>]> = [
    ['irsa', irsa({ useRegionalSts: true }), config({ awsDefaultRegion: 'eu-west-1' })],
    ['irsa-no-region', irsa(), config()],
    ['cc', cc(true), config({ awsDefaultRegion: 'eu-west-1' })],
  ];
  for (const [label, lookup, cfg] of cases) {
    const first = mutatePod(base, 'ns', lookup, cfg, Math.random);
    assert.equal(first.changed, true, label);
    const once = applyAdds(base, first.patchJson ?? '');
    const second = mutatePod(once, 'ns', lookup, cfg, Math.random);
    assert.equal(second.changed, false, label);
    assert.deepEqual(applyAdds(once, second.patchJson ?? ''), once, label);
  }
});

test('pure: the input pod is never modified', () => {
  const p = deepFreeze(pod({ initContainers: [{ name: 'i' }] }, { labels: {} }));
  const before = JSON.stringify(p);
  mutatePod(p, 'ns', irsa({ useRegionalSts: true }), config({ awsDefaultRegion: 'r' }), zero);
  mutatePod(p, 'ns', cc(), config(), zero);
  assert.equal(JSON.stringify(p), before);
});

test('Go decoding: ill-typed pods give the json.Unmarshal error and no patch; case-insensitive keys are honoured', () => {
  const rows: Array<[unknown, string]> = [
    [null, 'unexpected end of JSON input'],
    ['x', 'json: cannot unmarshal string into Go value of type v1.Pod'],
    [[1], 'json: cannot unmarshal array into Go value of type v1.Pod'],
    [{ spec: 'x' }, 'json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec'],
    [
      { spec: { containers: {} } },
      'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
    ],
    [
      { spec: { containers: ['x'] } },
      'json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container',
    ],
    [
      { spec: { containers: [{ name: 1 }] } },
      'json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string',
    ],
    [
      { spec: { containers: [{ env: [{ name: 'A', value: true }] }] } },
      'json: cannot unmarshal bool into Go struct field EnvVar.spec.containers.env.value of type string',
    ],
    [
      { spec: { containers: [{ ports: [{ containerPort: 1.5 }] }] } },
      'json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32',
    ],
    [
      { spec: { containers: [{ livenessProbe: { exec: { command: 'x' } } }] } },
      'json: cannot unmarshal string into Go struct field ExecAction.spec.containers.livenessProbe.ProbeHandler.exec.command of type []string',
    ],
    [
      { metadata: { annotations: { a: 1 } } },
      'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string',
    ],
    [
      { spec: { containers: [{ resources: { limits: { cpu: 'lots' } } }] } },
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ],
    [
      { spec: { containers: [{ resources: { limits: { cpu: '1K' } } }] } },
      "unable to parse quantity's suffix",
    ],
    [
      { spec: { containers: [{ readinessProbe: { httpGet: { port: true } } }] } },
      'json: cannot unmarshal bool into Go value of type int32',
    ],
  ];
  for (const [p, msg] of rows) {
    const r = mutatePod(p, 'ns', irsa(), config(), zero);
    assert.equal(r.error, msg, JSON.stringify(p));
    assert.equal(r.patchJson, undefined);
  }
  // Go matches JSON keys case-insensitively: "Name"/"ENV" are the name and env fields
  const p = {
    Metadata: { Annotations: { 'eks.amazonaws.com/token-expiration': '1000' } },
    Spec: { Containers: [{ Name: 'a', ENV: [{ NAME: 'AWS_REGION', value: 'x' }] }] },
  };
  const r = mutatePod(p, 'ns', irsa(), config({ awsDefaultRegion: 'y' }), zero);
  assert.equal(r.error, undefined);
  assert.match(r.patchJson ?? '', /"expirationSeconds":1000,/);
  assert.match(
    r.patchJson ?? '',
    /\[\{"name":"a","env":\[\{"name":"AWS_REGION","value":"x"\},\{"name":"AWS_ROLE_ARN"/,
  );
});

test('no containers: the containers op still carries "value":[] (a valid JSON Patch add, as the reference writes it)', () => {
  for (const spec of [{}, { containers: [] }, { containers: null }]) {
    const r = mutatePod({ spec }, 'ns', irsa(), config(), zero);
    assert.match(r.patchJson ?? '', /,\{"op":"add","path":"\/spec\/containers","value":\[\]\}\]$/);
    assert.deepEqual(ops(r.patchJson)[1], { op: 'add', path: '/spec/containers', value: [] });
  }
});

test('deeply nested unknown fields (as deep as Go accepts) are preserved without exhausting the stack', () => {
  const depth = 9990;
  const x = JSON.parse('{"a":'.repeat(depth) + '"<1>"' + '}'.repeat(depth)) as unknown;
  const r = mutatePod({ spec: { containers: [{ name: 'a', x }] } }, 'ns', irsa(), config(), zero);
  assert.equal(r.error, undefined);
  const json = r.patchJson ?? '';
  assert.ok(json.includes('"x":' + '{"a":'.repeat(depth) + '"\\u003c1\\u003e"' + '}'.repeat(depth)));
});

test('single-pass (pre-encoded containers) and two-pass encodings are byte-identical', async () => {
  const { preparePod, mutateCheckedPod, mutatePrepared } = await import('../../../src/webhook/mutate.js');
  const containers = [
    {
      name: 'a',
      image: 'i',
      env: [{ name: 'X', value: '<1>' }],
      volumeMounts: [{ name: 'd', mountPath: '/d' }],
      future: 1,
    },
    { name: 'b', env: [], volumeMounts: [] },
    {
      name: 'c',
      env: [
        { name: 'AWS_ROLE_ARN', value: 'x' },
        { name: 'AWS_REGION', value: 'r' },
      ],
    },
    {
      name: 'd',
      env: [
        { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
        { name: 'AWS_REGION', value: 'r' },
        { name: 'AWS_ROLE_ARN', value: 'x' },
      ],
      volumeMounts: [{ name: 'aws-iam-token', mountPath: '/x' }],
    },
    {
      name: 'e',
      resources: { limits: { cpu: '1000m' } },
      livenessProbe: { grpc: { port: 1 } },
      restartPolicy: 'Always',
    },
    null,
  ];
  const pods = [
    pod({ containers, initContainers: containers.slice(0, 3) }),
    pod({ containers: [] }),
    pod({ containers: containers.slice(2) }, { annotations: { 'eks.amazonaws.com/skip-containers': 'a,e' } }),
  ];
  const lookups = [irsa(), irsa({ useRegionalSts: true }), cc(true), irsa({ roleArn: '' })];
  const cfgs = [config(), config({ awsDefaultRegion: 'eu-west-1' })];
  let fast = 0;
  for (const p of pods)
    for (const l of lookups)
      for (const c of cfgs) {
        const prep = preparePod(p);
        assert.ok('prepared' in prep);
        if (prep.prepared.containers !== undefined) fast++;
        const a = mutatePrepared(prep.prepared, 'ns', l, c, zero);
        const b = mutateCheckedPod(p, 'ns', l, c, zero);
        assert.equal(a.patchJson, b.patchJson);
        assert.equal(a.changed, b.changed);
      }
  assert.equal(fast, pods.length * lookups.length * cfgs.length, 'well-typed pods take the single-pass path');
  // an ill-typed or case-folded pod takes the two-pass path
  const bad = preparePod(pod({ containers: [{ name: 'a', Env: [] }] }));
  assert.ok('prepared' in bad && bad.prepared.containers === undefined);
});
