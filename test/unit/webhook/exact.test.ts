/**
 * Exactness the differential run against the reference webhook asked for: numbers read and written from their
 * exact text with Go's int32/int64 range checks, token expirations as exact int64s, `"value":[]` for a pod
 * without containers, invalid UTF-8 replaced per byte, and the debug cache dump in Go's encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reviewAdmission } from '../../../src/webhook/admission.js';
import { GoNumber, goIntOf, INT32_RANGE, INT64_RANGE, parseGoJson } from '../../../src/webhook/go/number.js';
import { goDecodeUtf8 } from '../../../src/webhook/go/utf8.js';
import { mutatePod } from '../../../src/webhook/mutate.js';
import type { IdentityLookup } from '../../../src/webhook/types.js';
import { config, irsa } from '../../helpers/webhook-mutate.js';

const NONE: IdentityLookup = { mode: 'none', reason: 'not-found' };

/** POST /mutate with a raw JSON text for `request.object` (numbers stay as written). */
async function admit(objectJson: string, lookup: IdentityLookup = irsa(), raw?: Buffer) {
  const body =
    raw ??
    Buffer.from(
      `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u","namespace":"ns","object":${objectJson}}}`,
    );
  const out = await reviewAdmission({
    contentType: 'application/json',
    body,
    lookup: async () => lookup,
    config: config(),
    random: () => 0,
  });
  const review = JSON.parse(out.body) as {
    response: { allowed: boolean; patch?: string; status?: { message: string } };
  };
  const patch =
    review.response.patch === undefined ? '' : Buffer.from(review.response.patch, 'base64').toString('utf8');
  return { out, review, patch };
}

const podWith = (containerJson: string): string =>
  `{"metadata":{"name":"p"},"spec":{"serviceAccountName":"sa","containers":[${containerJson}]}}`;

test('a valid int64 at its maximum is admitted and written exactly, for IRSA pods and others (item 1)', async () => {
  for (const seconds of ['9223372036854775807', '9223372036854775296', '-9223372036854775808']) {
    const pod = podWith(`{"name":"a","lifecycle":{"preStop":{"sleep":{"seconds":${seconds}}}}}`);
    const plain = await admit(pod, NONE);
    assert.equal(plain.review.response.allowed, true, `${seconds}: ${plain.out.body}`);
    const mutated = await admit(pod);
    assert.equal(mutated.review.response.allowed, true, `${seconds}: ${mutated.out.body}`);
    assert.ok(mutated.patch.includes(`"sleep":{"seconds":${seconds}}`), mutated.patch);
  }
});

test('Go’s int64 / int32 range checks on the exact value, naming the number as written', async () => {
  const rows: Array<[string, string]> = [
    [
      '{"name":"a","lifecycle":{"preStop":{"sleep":{"seconds":9223372036854775808}}}}',
      'json: cannot unmarshal number 9223372036854775808 into Go struct field SleepAction.spec.containers.lifecycle.preStop.sleep.seconds of type int64',
    ],
    [
      '{"name":"a","lifecycle":{"preStop":{"sleep":{"seconds":-9223372036854775809}}}}',
      'json: cannot unmarshal number -9223372036854775809 into Go struct field SleepAction.spec.containers.lifecycle.preStop.sleep.seconds of type int64',
    ],
    [
      '{"name":"a","readinessProbe":{"timeoutSeconds":2147483648}}',
      'json: cannot unmarshal number 2147483648 into Go struct field Probe.spec.containers.readinessProbe.timeoutSeconds of type int32',
    ],
    [
      '{"name":"a","readinessProbe":{"httpGet":{"port":2147483648}}}',
      'json: cannot unmarshal number 2147483648 into Go value of type int32',
    ],
  ];
  for (const [container, message] of rows) {
    const { review } = await admit(podWith(container), NONE);
    assert.equal(review.response.allowed, false, container);
    assert.equal(review.response.status?.message, message, container);
  }
  const edge = await admit(
    podWith('{"name":"a","readinessProbe":{"timeoutSeconds":2147483647,"periodSeconds":-2147483648}}'),
  );
  assert.equal(edge.review.response.allowed, true, edge.out.body);
  assert.ok(edge.patch.includes('"timeoutSeconds":2147483647,"periodSeconds":-2147483648'), edge.patch);
});

test('an integral value spelled 1e3 or 80.0 is read as its value unless the pod is read losslessly', async () => {
  // JSON.parse cannot tell 1e3 from 1000; the lossless pass runs only when an inexact number (a fraction, beyond
  // 2^53, -0) is in the pod. The API server never sends such spellings (it encodes from typed int fields).
  const alone = await admit(
    podWith('{"name":"a","readinessProbe":{"timeoutSeconds":1e3},"ports":[{"containerPort":80.0}]}'),
  );
  assert.equal(alone.review.response.allowed, true);
  assert.ok(
    alone.patch.includes('"containerPort":80}') && alone.patch.includes('"timeoutSeconds":1000'),
    alone.patch,
  );
  // with an inexact number elsewhere in the pod, Go's error for the spelling, naming it as written
  const withBig = await admit(
    podWith(
      '{"name":"a","readinessProbe":{"timeoutSeconds":1e3},"lifecycle":{"preStop":{"sleep":{"seconds":9007199254740993}}}}',
    ),
    NONE,
  );
  assert.equal(
    withBig.review.response.status?.message,
    'json: cannot unmarshal number 1e3 into Go struct field Probe.spec.containers.readinessProbe.timeoutSeconds of type int32',
  );
});

test('integers above 2^53 and numbers the mutation does not own keep their exact text (item 2)', async () => {
  const container =
    '{"name":"a","livenessProbe":{"exec":{"command":["ok"]},"terminationGracePeriodSeconds":9007199254740993},' +
    '"securityContext":{"runAsUser":9007199254740993},' +
    '"futureField":{"big":123456789012345678901234567890,"f":1.50,"e":1E400,"z":-0,"n":[0.1,2e-5]}}';
  const { review, patch } = await admit(podWith(container));
  assert.equal(review.response.allowed, true);
  assert.ok(patch.includes('"terminationGracePeriodSeconds":9007199254740993}'), patch);
  assert.ok(patch.includes('"runAsUser":9007199254740993'), patch);
  // unknown fields (kept, unlike the reference) are written byte for byte
  assert.ok(
    patch.includes(
      '"futureField":{"big":123456789012345678901234567890,"f":1.50,"e":1E400,"z":-0,"n":[0.1,2e-5]}',
    ),
    patch,
  );
});

test('`-0` in an int field is Go’s zero: omitted under omitempty, written as 0 otherwise', async () => {
  const { patch } = await admit(podWith('{"name":"a","ports":[{"hostPort":-0,"containerPort":-0}]}'));
  assert.ok(patch.includes('"ports":[{"containerPort":0}]'), patch);
});

test('a number where a string or object belongs is a type error, never read as an object', async () => {
  const rows: Array<[string, string]> = [
    [
      '{"name":"a","securityContext":1e400}',
      'json: cannot unmarshal number into Go struct field Container.spec.containers.securityContext of type v1.SecurityContext',
    ],
    [
      '{"name":9007199254740993}',
      'json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string',
    ],
    [
      '{"name":"a","resources":{"limits":1.0}}',
      'json: cannot unmarshal number into Go struct field ResourceRequirements.spec.containers.resources.limits of type v1.ResourceList',
    ],
  ];
  for (const [container, message] of rows) {
    const { review } = await admit(podWith(container), NONE);
    assert.equal(review.response.status?.message, message, container);
  }
  const top = await admit('1.0', NONE);
  assert.equal(
    top.review.response.status?.message,
    'json: cannot unmarshal number into Go value of type v1.Pod',
  );
});

test('token-expiration above 2^53 is written exactly (item 3): the API server validates it, as with the reference', async () => {
  const K = 'eks.amazonaws.com/token-expiration';
  for (const v of ['9223372036854775807', '9007199254740993']) {
    const { patch } = await admit(
      `{"metadata":{"name":"p","annotations":{"${K}":"${v}"}},"spec":{"serviceAccountName":"sa","containers":[{"name":"a"}]}}`,
    );
    assert.ok(patch.includes(`"expirationSeconds":${v},`), patch);
  }
  const fromLookup = mutatePod(
    { spec: { containers: [{ name: 'a' }] } },
    'ns',
    irsa({ tokenExpiration: 9223372036854775807n }),
    config(),
    () => 0,
  );
  assert.match(fromLookup.patchJson ?? '', /"expirationSeconds":9223372036854775807,/);
});

test('a pod without containers gets "value":[] on the containers op (item 4)', async () => {
  const { patch } = await admit('{"metadata":{"name":"p"},"spec":{"serviceAccountName":"sa"}}');
  const ops = JSON.parse(patch) as Array<Record<string, unknown>>;
  assert.deepEqual(ops.at(-1), { op: 'add', path: '/spec/containers', value: [] });
  assert.ok(
    ops.every((op) => 'value' in op),
    patch,
  );
});

test('invalid UTF-8 becomes one U+FFFD per byte, as Go decodes it (item 5)', async () => {
  const head = Buffer.from(
    '{"request":{"uid":"u","namespace":"ns","object":{"spec":{"serviceAccountName":"sa","containers":[{"name":"a","image":"',
  );
  const tail = Buffer.from('"}]}}}}');
  const rows: Array<[number[], string]> = [
    [[0x61, 0xf0, 0x9f, 0x98, 0x62], 'a\uFFFD\uFFFD\uFFFDb'], // truncated 4-byte sequence: WHATWG gives one
    [[0xe2, 0x82], '\uFFFD\uFFFD'],
    [[0xed, 0xa0, 0x80], '\uFFFD\uFFFD\uFFFD'], // an encoded surrogate
    [[0xc0, 0xaf], '\uFFFD\uFFFD'], // overlong
    [[0xf4, 0x90, 0x80, 0x80], '\uFFFD\uFFFD\uFFFD\uFFFD'], // above U+10FFFF
    [[0xff, 0x78], '\uFFFDx'],
    [[0xf0, 0x9f, 0x98, 0x80], '\u{1F600}'], // valid
    [[0xef, 0xbf, 0xbd], '\uFFFD'], // a literal U+FFFD
  ];
  for (const [bytes, want] of rows) {
    assert.equal(goDecodeUtf8(Buffer.from(bytes)), want, bytes.join(' '));
    const { patch } = await admit('', irsa(), Buffer.concat([head, Buffer.from(bytes), tail]));
    assert.ok(patch.includes(`"image":${JSON.stringify(want)}`), `${bytes.join(' ')}: ${patch}`);
  }
});

test('parseGoJson: lossless only where a double would print differently; JSON.parse semantics otherwise', () => {
  const doc = parseGoJson(
    '{"a":[1e3,-0,1.5,9007199254740993,"x:1.0,",{"__proto__":1.0}],"b":12,"b":13,"c":123456789012345}',
  ) as Record<string, unknown>;
  const a = doc.a as unknown[];
  assert.deepEqual(
    a.map((v) => (v instanceof GoNumber ? `GoNumber(${v.text})` : v)),
    ['GoNumber(1e3)', 'GoNumber(-0)', 1.5, 'GoNumber(9007199254740993)', 'x:1.0,', a[5]],
  );
  const proto = a[5] as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(proto, '__proto__'));
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.equal((proto['__proto__'] as GoNumber).text, '1.0');
  assert.equal(doc.b, 13, 'last duplicate wins');
  assert.equal(doc.c, 123456789012345);
  // a string that only looks like a number is left alone, and cannot forge a lossless number
  const s = parseGoJson('{"x":"\\u0000abc:0","y":[1.0]}') as { x: unknown; y: unknown[] };
  assert.equal(s.x, '\u0000abc:0');
  assert.ok(s.y[0] instanceof GoNumber);
  // as deep as Go accepts
  const depth = 9990;
  const deep = parseGoJson('['.repeat(depth) + '1.0' + ']'.repeat(depth));
  let v: unknown = deep;
  for (let i = 0; i < depth; i++) v = (v as unknown[])[0];
  assert.ok(v instanceof GoNumber);
  assert.throws(() => parseGoJson('{"a":1.0,'), SyntaxError);
});

test('goIntOf: strconv.ParseInt on the exact text', () => {
  assert.equal(goIntOf(new GoNumber('9223372036854775807'), INT64_RANGE), 9223372036854775807n);
  assert.equal(goIntOf(new GoNumber('9223372036854775808'), INT64_RANGE), undefined);
  assert.equal(goIntOf(2147483647, INT32_RANGE), 2147483647n);
  assert.equal(goIntOf(2147483648, INT32_RANGE), undefined);
  assert.equal(goIntOf(new GoNumber('-0'), INT32_RANGE), 0n);
  assert.equal(goIntOf(new GoNumber('1e3'), INT64_RANGE), undefined);
  assert.equal(goIntOf(1.5, INT64_RANGE), undefined);
});
