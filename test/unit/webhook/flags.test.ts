import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLAGS,
  FlagError,
  helpText,
  parseArgs,
  parseGoDuration,
  resolveFlags,
} from '../../../src/webhook/flags.js';

const resolve = (argv: string[]) => resolveFlags(parseArgs(argv).values);

test('defaults match the reference', () => {
  const f = resolve([]);
  assert.equal(f.port, 443);
  assert.equal(f.metricsPort, 9999);
  assert.equal(f.tlsCert, '/etc/webhook/certs/tls.crt');
  assert.equal(f.tlsKey, '/etc/webhook/certs/tls.key');
  assert.equal(f.inCluster, true);
  assert.equal(f.namespace, 'eks');
  assert.equal(f.serviceName, 'pod-identity-webhook');
  assert.equal(f.tlsSecret, 'pod-identity-webhook');
  assert.equal(f.annotationPrefix, 'eks.amazonaws.com');
  assert.equal(f.tokenAudience, 'sts.amazonaws.com');
  assert.equal(f.tokenMountPath, '/var/run/secrets/eks.amazonaws.com/serviceaccount');
  assert.equal(f.tokenExpiration, 86400n);
  assert.equal(f.awsDefaultRegion, '');
  assert.equal(f.stsRegionalEndpoint, false);
  assert.equal(f.watchConfigMap, false);
  assert.equal(f.composeRoleArn, false);
  assert.equal(f.containerCredentialsAudience, 'pods.eks.amazonaws.com');
  assert.equal(
    f.containerCredentialsTokenMountPath,
    '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  );
  assert.equal(f.containerCredentialsTokenVolumeName, 'eks-pod-identity-token');
  assert.equal(f.containerCredentialsTokenPath, 'eks-pod-identity-token');
  assert.equal(f.containerCredentialsFullUri, 'http://169.254.170.23/v1/credentials');
  assert.equal(f.serviceAccountLookupGracePeriodMs, 0);
  assert.equal(f.resyncPeriodMs, 60_000);
  assert.equal(f.enableDebuggingHandlers, false);
  assert.equal(f.version, false);
});

test('pflag syntax: --f=v, --f v, bool --f and --f=false, single-dash -v=2, --', () => {
  const p = parseArgs([
    '--port=8443',
    '--metrics-port',
    '0',
    '--in-cluster=false',
    '--watch-config-map',
    '-v=4',
    '--',
    '--port=1',
  ]);
  const f = resolveFlags(p.values);
  assert.equal(f.port, 8443);
  assert.equal(f.metricsPort, 0);
  assert.equal(f.inCluster, false);
  assert.equal(f.watchConfigMap, true);
  assert.equal(f.verbosity, 4);
  assert.deepEqual(p.positional, ['--port=1']);
  assert.equal(resolve(['--sts-regional-endpoint=T']).stsRegionalEndpoint, true);
  assert.equal(resolve(['-v', '3']).verbosity, 3);
  assert.equal(resolve(['--port=1', '--port=2']).port, 2, 'last one wins');
});

test('every reference and klog flag is accepted', () => {
  const argv = FLAGS.map(
    (f) => `--${f.name}=${f.type === 'bool' ? 'false' : f.default || (f.type === 'int' ? '1' : 'x')}`,
  );
  const f = resolveFlags(
    parseArgs(argv.filter((a) => !a.startsWith('--log-format') && !a.startsWith('--max-request-bytes')))
      .values,
  );
  assert.equal(f.logFormat, 'json');
  for (const klog of [
    '--logtostderr',
    '--alsologtostderr=true',
    '--log_dir=/tmp',
    '--vmodule=a=1',
    '--stderrthreshold=INFO',
    '--skip_headers',
  ]) {
    assert.doesNotThrow(() => resolve([klog]), klog);
  }
});

test('token expiration is clamped to >= 600', () => {
  assert.equal(resolve(['--token-expiration=100']).tokenExpiration, 600n);
  assert.equal(resolve(['--token-expiration=-5']).tokenExpiration, 600n);
  assert.equal(resolve(['--token-expiration=3600']).tokenExpiration, 3600n);
});

test('--token-expiration is a Go int64 (pflag Int64, base 0): exact beyond 2^53, Go’s range error past int64', () => {
  assert.equal(resolve(['--token-expiration=9007199254740993']).tokenExpiration, 9007199254740993n);
  assert.equal(resolve(['--token-expiration=9223372036854775807']).tokenExpiration, 9223372036854775807n);
  assert.equal(resolve(['--token-expiration=0x7fffffffffffffff']).tokenExpiration, 9223372036854775807n);
  assert.equal(resolve(['--token-expiration=01750']).tokenExpiration, 1000n, 'a leading 0 is octal');
  assert.equal(resolve(['--token-expiration=1_000_000']).tokenExpiration, 1000000n);
  assert.throws(
    () => resolve(['--token-expiration=9223372036854775808']),
    (e: Error) =>
      e.message ===
      'invalid argument "9223372036854775808" for "--token-expiration" flag: strconv.ParseInt: parsing "9223372036854775808": value out of range',
  );
  assert.throws(() => resolve(['--token-expiration=09']), /invalid syntax/);
});

test('Go durations', () => {
  assert.equal(parseGoDuration('100ms'), 100);
  assert.equal(parseGoDuration('60s'), 60_000);
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-2s'), -2000);
  assert.equal(parseGoDuration('500us'), 0.5);
  for (const bad of ['', '10', 'ms', '1x', '1.5', 's1'])
    assert.throws(() => parseGoDuration(bad), FlagError, bad);
  assert.equal(
    resolve(['--service-account-lookup-grace-period=250ms']).serviceAccountLookupGracePeriodMs,
    250,
  );
});

test('errors: unknown flag, missing value, bad bool/int/duration', () => {
  assert.throws(() => parseArgs(['--nope']), /unknown flag: --nope/);
  assert.throws(() => parseArgs(['--port']), /flag needs an argument: --port/);
  assert.throws(
    () => resolve(['--in-cluster=yes']),
    /invalid argument "yes" for "--in-cluster" flag: strconv.ParseBool/,
  );
  assert.throws(() => resolve(['--port=abc']), /invalid argument "abc" for "--port"/);
  assert.throws(() => resolve(['--resync-period=5']), /missing unit|invalid duration/);
  assert.throws(() => resolve(['--port=70000']), /0-65535/);
  assert.throws(() => resolve(['--log-format=xml']), /json or text/);
  assert.equal(parseArgs(['--help']).help, true);
  assert.equal(parseArgs(['-h']).help, true);
});

test('cipher suites are trimmed and blanks skipped', () => {
  assert.deepEqual(
    resolve(['--tls-cipher-suites= TLS_AES_128_GCM_SHA256 ,, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'])
      .tlsCipherSuites,
    ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  );
});

test('--help lists every flag', () => {
  const h = helpText();
  for (const f of FLAGS) assert.ok(h.includes(`--${f.name}`), f.name);
});
