import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ADMISSION_BODY_BYTES, reviewAdmission } from '../../../src/webhook/admission.js';
import type { IdentityLookup } from '../../../src/webhook/types.js';
import { config, irsa, ROLE } from '../../helpers/webhook-mutate.js';

type Lookup = (ns: string, sa: string) => Promise<IdentityLookup>;

async function review(body: string | Buffer, opts: { contentType?: string | null; lookup?: Lookup } = {}) {
  const calls: Array<[string, string]> = [];
  const lookup: Lookup =
    opts.lookup ??
    (async (ns, sa) => {
      calls.push([ns, sa]);
      return irsa();
    });
  const out = await reviewAdmission({
    contentType: opts.contentType === null ? undefined : (opts.contentType ?? 'application/json'),
    body: typeof body === 'string' ? Buffer.from(body) : body,
    lookup,
    config: config(),
    random: () => 0,
  });
  return { out, calls };
}

const SNIFFED = { 'content-type': 'text/plain; charset=utf-8' };
const deny = (message: string, uid = '', head = ''): string =>
  `{${head}"response":{"uid":"${uid}","allowed":false,"status":{"metadata":{},"message":${JSON.stringify(message)}}}}`;

test('415 for any Content-Type other than exactly application/json (Go http.Error text and headers)', async () => {
  for (const ct of [
    null,
    '',
    'text/plain',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/yaml',
  ]) {
    const { out, calls } = await review('{}', { contentType: ct });
    assert.equal(out.status, 415, String(ct));
    assert.equal(out.body, 'Invalid Content-Type, expected `application/json`\n');
    assert.deepEqual(out.headers, {
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    });
    assert.equal(calls.length, 0);
    assert.ok(out.error);
  }
});

test('413 guard for bodies over MAX_ADMISSION_BODY_BYTES (3 MiB)', async () => {
  assert.equal(MAX_ADMISSION_BODY_BYTES, 3 * 1024 * 1024);
  const { out } = await review(Buffer.alloc(MAX_ADMISSION_BODY_BYTES + 1, 0x20));
  assert.equal(out.status, 413);
  assert.match(out.body, /too large/);
});

test('error paths: exact response bytes (status 200, allowed:false, Go messages)', async () => {
  const rows: Array<[string, string]> = [
    ['', deny('bad content')],
    ['   \n', deny('bad content')],
    ['null', deny('bad content')],
    ['{}', deny('bad content')],
    ['{"request":null}', deny('bad content')],
    ['{"Request":{"uid":"x"}}', deny('bad content')],
    ['{', deny("couldn't get version/kind; json parse error: unexpected end of JSON input")],
    [
      '{"kind":"AdmissionReview",}',
      deny(
        `couldn't get version/kind; json parse error: invalid character '}' looking for beginning of object key string`,
      ),
    ],
    [
      '{"kind":1}',
      deny(
        "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string",
      ),
    ],
    [
      '"hello"',
      deny(
        'couldn\'t get version/kind; json parse error: json: cannot unmarshal string into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
      ),
    ],
    [
      '{"request":"x"}',
      deny(
        'json: cannot unmarshal string into Go struct field AdmissionReview.request of type v1.AdmissionRequest',
      ),
    ],
    ['{"request":{"uid":"u1"}}', deny('unexpected end of JSON input', 'u1')],
    ['{"request":{"uid":"u1","object":null}}', deny('unexpected end of JSON input', 'u1')],
    [
      '{"request":{"uid":"u1","object":"pod"}}',
      deny('json: cannot unmarshal string into Go value of type v1.Pod', 'u1'),
    ],
    [
      '{"request":{"uid":"u1","object":5}}',
      deny('json: cannot unmarshal number into Go value of type v1.Pod', 'u1'),
    ],
    [
      '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u2","object":{"spec":{"containers":[{"name":7}]}}}}',
      deny(
        'json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string',
        'u2',
        '"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",',
      ),
    ],
    [
      '{"request":{"uid":5,"object":{}}}',
      deny(
        'json: cannot unmarshal number into Go struct field AdmissionRequest.request.uid of type types.UID',
      ),
    ],
  ];
  for (const [body, want] of rows) {
    const { out, calls } = await review(body);
    assert.equal(out.status, 200, body);
    assert.deepEqual(out.headers, SNIFFED, body);
    assert.equal(out.body, want, body);
    assert.ok(out.error, body);
    assert.equal(calls.length, 0, `no lookup for ${body}`);
  }
});

const podObject = {
  metadata: { name: 'web', annotations: { 'eks.amazonaws.com/token-expiration': '60' } },
  spec: { serviceAccountName: 'writer', containers: [{ name: 'app', image: 'i' }] },
};

test('success: TypeMeta and uid echoed (v1 and v1beta1), base64 JSONPatch, warnings, lookup by request namespace + SA', async () => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const body = JSON.stringify({
      kind: 'AdmissionReview',
      apiVersion,
      request: {
        uid: '918e-1',
        namespace: 'team-a',
        operation: 'CREATE',
        object: { ...podObject, metadata: { ...podObject.metadata, namespace: 'ignored' } },
      },
    });
    const { out, calls } = await review(body);
    assert.equal(out.status, 200);
    assert.deepEqual(calls, [['team-a', 'writer']]);
    assert.deepEqual(out.pod, { name: 'web', namespace: 'team-a', serviceAccount: 'writer' });
    const parsed = JSON.parse(out.body) as { response: { patch: string; warnings: string[] } };
    const patch = Buffer.from(parsed.response.patch, 'base64').toString('utf8');
    assert.equal(patch, out.result?.patchJson);
    assert.match(patch, /"expirationSeconds":600,/);
    const warning =
      'annotation eks.amazonaws.com/token-expiration="60" is below the minimum of 600 seconds; using 600';
    assert.equal(
      out.body,
      `{"kind":"AdmissionReview","apiVersion":"${apiVersion}","response":{"uid":"918e-1","allowed":true,"patch":"${parsed.response.patch}","patchType":"JSONPatch","warnings":[${JSON.stringify(warning)}]}}`,
    );
    assert.equal(out.error, undefined);
  }
});

test('no TypeMeta in the request → none in the response (hack/request.json has no apiVersion)', async () => {
  const { out } = await review(JSON.stringify({ request: { uid: 'u', object: podObject } }));
  assert.match(out.body, /^\{"response":\{"uid":"u","allowed":true,"patch":"/);
});

test('no identity → {allowed:true} without patch; the deprecated spec.serviceAccount is ignored', async () => {
  const calls: Array<[string, string]> = [];
  const lookup: Lookup = async (ns, sa) => {
    calls.push([ns, sa]);
    return { mode: 'none', reason: 'not-found' };
  };
  const { out } = await review(
    JSON.stringify({
      kind: 'AdmissionReview',
      apiVersion: 'admission.k8s.io/v1',
      request: {
        uid: 'u3',
        object: { metadata: { generateName: 'web-' }, spec: { serviceAccount: 'old', containers: [] } },
      },
    }),
    { lookup },
  );
  assert.equal(
    out.body,
    '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u3","allowed":true}}',
  );
  assert.deepEqual(calls, [['', '']]);
  assert.deepEqual(out.pod, { name: 'web-', namespace: '', serviceAccount: '' });
  assert.equal(out.result?.patchJson, undefined);
});

test('a malformed role ARN is admitted with a warning', async () => {
  const lookup: Lookup = async () => irsa({ roleArn: 'not-an-arn' });
  const { out } = await review(JSON.stringify({ request: { uid: 'u', namespace: 'n', object: podObject } }), {
    lookup,
  });
  const r = JSON.parse(out.body) as { response: { allowed: boolean; warnings: string[] } };
  assert.equal(r.response.allowed, true);
  assert.equal(r.response.warnings.length, 2);
  assert.match(r.response.warnings[0] ?? '', /"not-an-arn".*not a valid IAM role ARN/);
  void ROLE;
});

test('never throws: a failing lookup gives a 500 (the API server then applies failurePolicy)', async () => {
  const lookup: Lookup = async () => {
    throw new Error('cache exploded');
  };
  const { out } = await review(JSON.stringify({ request: { uid: 'u', object: podObject } }), { lookup });
  assert.equal(out.status, 500);
  assert.equal(out.body, 'internal error\n');
  assert.match(out.error ?? '', /cache exploded/);
});

test('fuzz: random and truncated bodies never throw and always answer 200 with an AdmissionReview', async () => {
  const good = JSON.stringify({
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: { uid: 'u', object: podObject },
  });
  const bodies: string[] = [];
  for (let i = 0; i < good.length; i += 3) bodies.push(good.slice(0, i));
  const alphabet = '{}[]":,0123456789.eE+-truefalsnl \\u\n\t<>&abc';
  let seed = 42;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 300; i++) {
    let s = '';
    const len = Math.floor(rnd() * 40);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    bodies.push(s, '{' + s);
  }
  for (const b of bodies) {
    const { out } = await review(b);
    assert.equal(out.status, 200, JSON.stringify(b));
    const parsed = JSON.parse(out.body) as { response: { allowed: boolean } };
    assert.equal(typeof parsed.response.allowed, 'boolean');
  }
});

test('nesting deeper than Go allows (10000) is denied with Go’s scanner error, never a crash', async () => {
  const depthError = (c: string): string =>
    deny(`couldn't get version/kind; json parse error: invalid character '${c}' exceeded max depth`);
  const rows: Array<[string, string]> = [
    ['{"request":{"object":' + '['.repeat(20000) + ']'.repeat(20000) + '}}', depthError('[')],
    ['{"request":{"object":' + '['.repeat(20000), depthError('[')],
    [
      '{"request":{"object":{"spec":{"containers":[{"name":"a","x":' +
        '{"a":'.repeat(50000) +
        '1' +
        '}'.repeat(50000) +
        '}]}}}}',
      depthError('{'),
    ],
  ];
  for (const [body, want] of rows) {
    const { out } = await review(body);
    assert.equal(out.status, 200);
    assert.equal(out.body, want);
  }
  // 9998 arrays inside the review's 2 objects reach exactly Go's limit of 10000; one more is too deep
  const ok = '{"request":{"object":' + '['.repeat(9998) + ']'.repeat(9998) + '}}';
  const tooDeep = '{"request":{"object":' + '['.repeat(9999) + ']'.repeat(9999) + '}}';
  assert.equal((await review(tooDeep)).out.body, depthError('['));
  const { out } = await review(ok);
  assert.equal(out.body, deny('json: cannot unmarshal array into Go value of type v1.Pod'));
});
