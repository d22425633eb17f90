import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeContainer } from '../../../src/webhook/go/encode.js';
import { goKeyCompare, goString } from '../../../src/webhook/go/json-string.js';
import { goQuantityString, QuantityError } from '../../../src/webhook/go/quantity.js';
import { goJsonSyntaxError } from '../../../src/webhook/go/json-syntax-error.js';

test('Go string escaping: <, >, & and U+2028/2029 as \\u escapes; control characters as Go writes them', () => {
  const rows: Array<[string, string]> = [
    ['plain', '"plain"'],
    ['<a href="x">&</a>', '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"'],
    ['line\u2028para\u2029', '"line\\u2028para\\u2029"'],
    ['tab\tnl\ncr\r', '"tab\\tnl\\ncr\\r"'],
    ['\b\f', '"\\b\\f"'],
    ['\u0001\u001f', '"\\u0001\\u001f"'],
    ['\u007f', '"\u007f"'],
    ['back\\slash', '"back\\\\slash"'],
    ['é✓😀', '"é✓😀"'],
    ['lone \ud800 surrogate', '"lone \ufffd surrogate"'],
  ];
  for (const [input, want] of rows) assert.equal(goString(input), want, JSON.stringify(input));
});

test('Go map key order is byte order (UTF-8), not UTF-16 order', () => {
  const keys = ['b', 'a', 'B', '\uffff', '😀', 'aa'];
  assert.deepEqual(keys.sort(goKeyCompare), ['B', 'a', 'aa', 'b', '\uffff', '😀']);
});

test('Container: Go struct field order whatever the input order; omitempty; non-pointer structs always emitted', () => {
  const c = {
    tty: true,
    securityContext: {
      runAsNonRoot: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    imagePullPolicy: 'IfNotPresent',
    env: [],
    args: ['b'],
    command: ['a'],
    image: 'i',
    name: 'n',
    workingDir: '',
    stdin: false,
    ports: [{ protocol: 'TCP', containerPort: 80, name: 'http', hostPort: 0 }],
  };
  assert.equal(
    encodeContainer(c),
    '{"name":"n","image":"i","command":["a"],"args":["b"],"ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],' +
      '"resources":{},"imagePullPolicy":"IfNotPresent","securityContext":{"capabilities":{"drop":["ALL"]},' +
      '"runAsNonRoot":false,"seccompProfile":{"type":"RuntimeDefault"}},"tty":true}',
  );
});

test('non-omitempty fields: name, mountPath, containerPort, grpc port and service (null), divisor "0", IntOrString port', () => {
  const c = {
    volumeMounts: [{ name: 'v' }],
    ports: [{}],
    livenessProbe: { grpc: { port: 9000 }, periodSeconds: 0, terminationGracePeriodSeconds: 0 },
    readinessProbe: { httpGet: { port: 'http', path: '/' } },
    startupProbe: { tcpSocket: {} },
    env: [{ name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }, {}],
    lifecycle: { preStop: { sleep: {} }, stopSignal: 'SIGTERM' },
    resources: { limits: { memory: '1024Mi', cpu: '1000m' }, requests: { cpu: 0.5 }, claims: [] },
  };
  assert.equal(
    encodeContainer(c),
    '{"name":"","ports":[{"containerPort":0}],"env":[{"name":"X","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu","divisor":"0"}}},{"name":""}],' +
      '"resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}},"volumeMounts":[{"name":"v","mountPath":""}],' +
      '"livenessProbe":{"grpc":{"port":9000,"service":null},"terminationGracePeriodSeconds":0},' +
      '"readinessProbe":{"httpGet":{"path":"/","port":"http"}},"startupProbe":{"tcpSocket":{"port":0}},' +
      '"lifecycle":{"preStop":{"sleep":{"seconds":0}},"stopSignal":"SIGTERM"}}',
  );
});

test('null is Go zero: null fields vanish (omitempty) or become zero values; pointers set to false/0/"" stay', () => {
  assert.equal(
    encodeContainer({
      name: null,
      image: null,
      env: null,
      livenessProbe: null,
      securityContext: { privileged: false, procMount: '' },
    }),
    '{"name":"","resources":{},"securityContext":{"privileged":false,"procMount":""}}',
  );
});

test('Quantity: canonical like apimachinery (cached canonical inputs kept verbatim)', () => {
  const rows: Array<[unknown, string]> = [
    ['1000m', '1'],
    ['0.5', '500m'],
    [0.5, '500m'],
    [1, '1'],
    ['100Mi', '100Mi'],
    ['1024Mi', '1Gi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Gi', '512Mi'],
    ['8Gi', '8Gi'],
    ['1536Mi', '1536Mi'],
    ['1.1Ki', '1126400m'],
    ['0.5Ki', '512'],
    ['2000', '2k'],
    ['1000k', '1M'],
    ['1024', '1024'],
    ['1e3', '1e3'],
    ['1.5e3', '1500'],
    ['12e6', '12e6'],
    ['0.1', '100m'],
    ['1.0', '1'],
    ['0', '0'],
    ['0Mi', '0'],
    ['-1', '-1'],
    ['+1', '+1'],
    ['01', '01'],
    ['500m', '500m'],
    ['1500m', '1500m'],
    ['100n', '100n'],
    ['0.0000000001', '1n'],
    ['  2Gi ', '2Gi'],
    [null, '0'],
  ];
  for (const [input, want] of rows) assert.equal(goQuantityString(input), want, JSON.stringify(input));
  const bad: Array<[unknown, RegExp]> = [
    ['abc', /must match the regular expression/],
    ['', /must match/],
    ['1.2.3', /must match/],
    ['1Kb', /must match/],
    ['1K', /unable to parse quantity's suffix/],
    ['1 Gi', /must match/],
    [true, /must match/],
    [{}, /must match/],
  ];
  for (const [input, re] of bad) {
    assert.throws(
      () => goQuantityString(input),
      (e: unknown) => e instanceof QuantityError && re.test(e.message),
    );
  }
});

test('Go JSON syntax errors: the scanner messages the reference returns', () => {
  const rows: Array<[string, string | undefined]> = [
    ['{"a":1}', undefined],
    ['', 'unexpected end of JSON input'],
    ['{', 'unexpected end of JSON input'],
    ['{"a":', 'unexpected end of JSON input'],
    ['{x}', "invalid character 'x' looking for beginning of object key string"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b"}', "invalid character '\"' after object key:value pair"],
    ['{"a":[1 2]}', "invalid character '2' after array element"],
    ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"a":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['{"a":-x}', "invalid character 'x' in numeric literal"],
    ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
    ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
    ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
    ['{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"],
    ['{"a":"\n"}', "invalid character '\\n' in string literal"],
    ['{"a":"\u0001"}', "invalid character '\\x01' in string literal"],
    ['{"a":01}', "invalid character '1' after object key:value pair"],
    ['{} x', "invalid character 'x' after top-level value"],
    ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
    ['{"a":}', "invalid character '}' looking for beginning of value"],
  ];
  for (const [input, want] of rows) assert.equal(goJsonSyntaxError(input), want, JSON.stringify(input));
});
