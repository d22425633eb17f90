import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutatePod } from '../../../src/webhook/mutate.js';
import { parseGoBool, parseGoInt64 } from '../../../src/webhook/go/strconv.js';
import { config, envOf, irsa, pod } from '../../helpers/webhook-mutate.js';

const zero = (): number => 0;

test('strconv.ParseBool: exactly Go’s accepted spellings', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true, t);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false, f);
  for (const bad of ['', 'yes', 'on', 'tRUE', ' true', 'true ', '2', 'constructor', '__proto__'])
    assert.equal(parseGoBool(bad), undefined, bad);
});

test('strconv.ParseInt(s, 10, 64): sign allowed, no spaces, no underscores, the exact int64 range', () => {
  const rows: Array<[string, bigint | undefined]> = [
    ['0', 0n],
    ['600', 600n],
    ['+600', 600n],
    ['-600', -600n],
    ['007', 7n],
    ['9223372036854775807', 9223372036854775807n],
    ['9223372036854775806', 9223372036854775806n],
    ['9007199254740993', 9007199254740993n],
    ['-9223372036854775808', -9223372036854775808n],
    ['-9223372036854775809', undefined],
    ['9223372036854775808', undefined],
    ['', undefined],
    ['+', undefined],
    [' 1', undefined],
    ['1_000', undefined],
    ['0x10', undefined],
    ['1.0', undefined],
    ['1e3', undefined],
    ['١٢', undefined],
  ];
  for (const [s, want] of rows) assert.equal(parseGoInt64(s), want, s);
});

test('pod annotations the reference does not read are ignored (role-arn, audience, sts-regional-endpoints)', () => {
  const annotations = {
    'eks.amazonaws.com/role-arn': 'arn:aws:iam::999999999999:role/other',
    'eks.amazonaws.com/audience': 'other-audience',
    'eks.amazonaws.com/sts-regional-endpoints': 'true',
  };
  const r = mutatePod(pod({}, { annotations }), 'ns', irsa(), config(), zero);
  assert.doesNotMatch(r.patchJson ?? '', /999999999999|other-audience|AWS_STS_REGIONAL_ENDPOINTS/);
  assert.equal(r.changed, true);
});

test('the skip-pod-identity-webhook label is not read by the mutation (it is an objectSelector)', () => {
  const r = mutatePod(
    pod({}, { labels: { 'eks.amazonaws.com/skip-pod-identity-webhook': 'true' } }),
    'ns',
    irsa(),
    config(),
    zero,
  );
  assert.equal(envOf(r.patchJson).length, 2);
});

test('Go escaping reaches the patch bytes (env values, role ARN, names)', () => {
  const p = pod({ containers: [{ name: 'a<b>', image: 'x&y', env: [{ name: 'Q', value: '\u2028"' }] }] });
  const r = mutatePod(p, 'ns', irsa({ roleArn: 'arn:aws:iam::111122223333:role/a&b' }), config(), zero);
  const json = r.patchJson ?? '';
  assert.match(
    json,
    /"name":"a\\u003cb\\u003e","image":"x\\u0026y","env":\[\{"name":"Q","value":"\\u2028\\""\}/,
  );
  assert.match(json, /"value":"arn:aws:iam::111122223333:role\/a\\u0026b"/);
  assert.equal(JSON.parse(json)[1].value[0].name, 'a<b>');
});

test('non-string annotations make the pod undecodable, as in Go', () => {
  const r = mutatePod(
    pod({}, { annotations: { 'eks.amazonaws.com/token-expiration': 3600 } }),
    'ns',
    irsa(),
    config(),
    zero,
  );
  assert.equal(
    r.error,
    'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string',
  );
});
