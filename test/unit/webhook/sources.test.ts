import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigMapHandler,
  ConfigMapParseError,
  parseConfigMapConfig,
} from '../../../src/webhook/config-map.js';
import { ContainerCredentialsConfig, parseIdentities } from '../../../src/webhook/container-credentials.js';
import { parseServiceAccounts, StaticServiceAccountSource } from '../../../src/webhook/static-source.js';
import { IdentityCache } from '../../../src/webhook/cache.js';
import { memoryLogger, until } from '../../helpers/wait-and-log.js';

const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const newCache = () => {
  const { logger, lines } = memoryLogger();
  return {
    c: new IdentityCache({
      annotationPrefix: 'eks.amazonaws.com',
      tokenAudience: 'sts.amazonaws.com',
      stsRegionalEndpoint: false,
      tokenExpiration: 3600n,
      logger,
      gracePeriodMs: 0,
    }),
    logger,
    lines,
  };
};

test('ConfigMap config: case-insensitive fields, unknown ignored, defaults, * namespace', () => {
  const p = parseConfigMapConfig(
    JSON.stringify({
      'ns/a': { RoleARN: ROLE, Audience: 'aud', UseRegionalSTS: true, TokenExpiration: 100, Extra: 1 },
      '*/b': { rolearn: 'r2', useregionalsts: false },
      'ns/c/extra': { ROLEARN: 'r3' },
      nokey: { RoleARN: 'r4' },
      'ns/nul': null,
    }),
  );
  assert.deepEqual(p.entries.get('ns/a'), {
    roleArn: ROLE,
    audience: 'aud',
    useRegionalSts: true,
    tokenExpiration: 100n,
  });
  assert.deepEqual(p.entries.get('*/b'), {
    roleArn: 'r2',
    audience: '',
    useRegionalSts: false,
    tokenExpiration: 0n,
  });
  assert.deepEqual(p.entries.get('ns/c'), {
    roleArn: 'r3',
    audience: '',
    useRegionalSts: false,
    tokenExpiration: 0n,
  });
  assert.equal(p.entries.size, 3);
  assert.deepEqual(p.rejected.map((r) => r.key).sort(), ['nokey', 'ns/nul']);
  assert.throws(() => parseConfigMapConfig('{'), ConfigMapParseError);
  assert.throws(() => parseConfigMapConfig('[]'), ConfigMapParseError);
  assert.throws(() => parseConfigMapConfig('{"a/b":{"RoleARN":5}}'), /RoleARN must be a string/);
  assert.throws(() => parseConfigMapConfig('{"a/b":{"TokenExpiration":1.5}}'), /integer/);
  // TokenExpiration is a Go int64: exact to its maximum, refused past it or written as 1e3
  assert.equal(
    parseConfigMapConfig('{"a/b":{"TokenExpiration":9223372036854775807}}').entries.get('a/b')
      ?.tokenExpiration,
    9223372036854775807n,
  );
  assert.throws(() => parseConfigMapConfig('{"a/b":{"TokenExpiration":9223372036854775808}}'), /integer/);
  assert.throws(() => parseConfigMapConfig('{"a/b":{"TokenExpiration":1e3}}'), /integer/);
  assert.throws(() => parseConfigMapConfig('{"a/b":1.0}'), /must be an object/);
  assert.equal(parseConfigMapConfig('null').entries.size, 0);
});

test('ConfigMap handler: update replaces, invalid keeps, delete keeps, other names ignored', async () => {
  const { c, logger, lines } = newCache();
  const h = new ConfigMapHandler(c, logger);
  const cm = (config: string, name = 'pod-identity-webhook') => ({
    metadata: { name, namespace: 'eks' },
    data: { config },
  });
  h.upsert(cm(JSON.stringify({ 'n/a': { RoleARN: ROLE }, 'n/b': { RoleARN: ROLE, TokenExpiration: 99 } })));
  assert.equal((await c.lookup('n', 'a')).mode, 'web-identity');
  assert.deepEqual(
    await c.lookup('n', 'b'),
    {
      mode: 'web-identity',
      source: 'config-map',
      settings: { roleArn: ROLE, audience: '', useRegionalSts: false, tokenExpiration: 99n },
    },
    'unclamped',
  );
  assert.deepEqual(
    ((await c.lookup('n', 'a')) as { settings: { tokenExpiration: bigint } }).settings.tokenExpiration,
    3600n,
  );
  h.upsert(cm(JSON.stringify({ 'n/a': { RoleARN: ROLE } })));
  assert.equal((await c.lookup('n', 'b')).mode, 'none');
  h.upsert(cm('{bad json'));
  assert.equal((await c.lookup('n', 'a')).mode, 'web-identity');
  assert.ok(lines.some((l) => l.level === 50 && String(l.msg).includes('invalid ConfigMap')));
  h.upsert(cm(JSON.stringify({}), 'other'));
  h.remove();
  assert.equal((await c.lookup('n', 'a')).mode, 'web-identity');
  h.upsert(cm(JSON.stringify({ bad: { RoleARN: ROLE } })));
  assert.ok(lines.some((l) => l.key === 'bad' && String(l.msg).includes('rejected')));
});

test('container credentials identities: parse', () => {
  assert.deepEqual(
    [
      ...parseIdentities(
        '{"identities":[{"namespace":"a","serviceAccount":"b"},{"NAMESPACE":"c","serviceaccount":"d"}]}',
      ),
    ],
    ['a/b', 'c/d'],
  );
  assert.equal(parseIdentities('').size, 0);
  assert.equal(parseIdentities('  \n').size, 0);
  assert.equal(parseIdentities('{}').size, 0);
  assert.throws(() => parseIdentities('{'), /invalid JSON/);
  assert.throws(() => parseIdentities('{"identities":{}}'), /must be a list/);
});

test('container credentials file: reload on change, keep on invalid, clear on delete/empty', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-'));
  const file = join(dir, 'config.json');
  const { logger } = memoryLogger();
  writeFileSync(file, JSON.stringify({ identities: [{ namespace: 'a', serviceAccount: 'b' }] }));
  const cc = new ContainerCredentialsConfig(file, logger);
  try {
    await cc.start();
    assert.equal(cc.has('a', 'b'), true);
    assert.equal(cc.has('a', 'x'), false);
    // Atomic replace (write temp + rename), as kubelet and editors do.
    writeFileSync(
      join(dir, 'tmp'),
      JSON.stringify({ identities: [{ namespace: 'a', serviceAccount: 'x' }] }),
    );
    renameSync(join(dir, 'tmp'), file);
    await until(() => cc.has('a', 'x'), 3000, 'reload after rename');
    assert.equal(cc.has('a', 'b'), false);
    writeFileSync(file, '{not json');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(cc.has('a', 'x'), true, 'invalid content keeps the previous set');
    writeFileSync(file, '');
    await until(() => cc.size === 0, 3000, 'empty clears');
    writeFileSync(file, JSON.stringify({ identities: [{ namespace: 'q', serviceAccount: 'r' }] }));
    await until(() => cc.has('q', 'r'), 3000, 'reload');
    unlinkSync(file);
    await until(() => cc.size === 0, 3000, 'delete clears');
  } finally {
    cc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('static ServiceAccounts file: YAML list, v1 List, documents, JSON', () => {
  const yamlList = `- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: a\n    namespace: n\n    annotations:\n      eks.amazonaws.com/role-arn: ${ROLE}\n      other/x: y\n`;
  assert.deepEqual(parseServiceAccounts(yamlList, 'eks.amazonaws.com'), [
    { namespace: 'n', name: 'a', annotations: { 'eks.amazonaws.com/role-arn': ROLE } },
  ]);
  const list = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [{ kind: 'ServiceAccount', metadata: { name: 'b' } }],
  });
  assert.deepEqual(parseServiceAccounts(list, 'eks.amazonaws.com'), [
    { namespace: 'default', name: 'b', annotations: {} },
  ]);
  const docs = `kind: ServiceAccount\nmetadata: {name: c, namespace: x}\n---\nkind: ServiceAccount\nmetadata: {name: d, namespace: x}\n`;
  assert.equal(parseServiceAccounts(docs, 'eks.amazonaws.com').length, 2);
  assert.throws(
    () => parseServiceAccounts('kind: Pod\nmetadata: {name: p}', 'eks.amazonaws.com'),
    /not ServiceAccount/,
  );
  assert.throws(() => parseServiceAccounts('- metadata: {}', 'eks.amazonaws.com'), /no metadata.name/);
  assert.throws(() => parseServiceAccounts('a: [', 'eks.amazonaws.com'), /document 1/);
  assert.deepEqual(parseServiceAccounts('', 'eks.amazonaws.com'), []);
});

test('static ServiceAccounts source: load, reload on change, bad reload keeps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-'));
  const file = join(dir, 'sa.yaml');
  const { c, logger } = newCache();
  writeFileSync(
    file,
    `- kind: ServiceAccount\n  metadata: {name: a, namespace: n, annotations: {eks.amazonaws.com/role-arn: "${ROLE}"}}\n`,
  );
  const src = new StaticServiceAccountSource(file, c, 'eks.amazonaws.com', logger);
  try {
    await src.start();
    assert.equal(src.synced, true);
    assert.equal((await c.lookup('n', 'a')).mode, 'web-identity');
    writeFileSync(
      file,
      `- kind: ServiceAccount\n  metadata: {name: b, namespace: n, annotations: {eks.amazonaws.com/role-arn: "${ROLE}"}}\n`,
    );
    await until(() => c.get('n', 'b').found, 3000, 'reload');
    assert.equal(c.get('n', 'a').found, false, 'replaced');
    writeFileSync(file, 'kind: Pod\nmetadata: {name: x}\n');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.get('n', 'b').found, true);
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const missing = new StaticServiceAccountSource(join(dir, 'nope.yaml'), c, 'eks.amazonaws.com', logger);
  await assert.rejects(() => missing.start(), /cannot read --service-accounts-file/);
});
