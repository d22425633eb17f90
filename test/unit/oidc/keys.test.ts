import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate, sha1Thumbprint } from '../../../src/pki/index.js';
import { KeyStore, ProviderKeys, selectJwk, type ProviderTrust } from '../../../src/oidc/keys.js';
import { MSG, type StsError } from '../../../src/sts/protocol.js';
import { TokenError } from '../../../src/oidc/errors.js';
import { stsErrorOf } from '../../../src/sts/token-errors.js';
import { makeKey } from '../../helpers/sts-fixtures.js';

const ca = await createCa('oidc test CA');
const otherCa = await createCa('some other CA');
const leaf = await issueCertificate(ca, { dnsNames: ['localhost'] });
const k1 = await makeKey('k1');
const k2 = await makeKey('k2');
let served = [k1.jwk];
let hits = { discovery: 0, jwks: 0 };
let failDiscovery = false;
let base = '';
const server: Server = createServer({ cert: leaf.cert + ca.cert, key: leaf.key }, (req, res) => {
  if (req.url === '/.well-known/openid-configuration') {
    hits.discovery++;
    if (failDiscovery) {
      res.statusCode = 503;
      return res.end();
    }
    res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys` }));
  } else if (req.url === '/keys') {
    hits.jwks++;
    res.end(JSON.stringify({ keys: served }));
  } else if (req.url === '/trickle') {
    // One byte every 100 ms, forever: each byte resets an idle timeout, only a total deadline ends it.
    hits.jwks++;
    res.write('{');
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
    res.on('close', () => clearInterval(t));
  } else {
    res.statusCode = 404;
    res.end();
  }
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
base = `https://localhost:${(server.address() as AddressInfo).port}`;
after(() => server.close());

const reset = () => {
  served = [k1.jwk];
  hits = { discovery: 0, jwks: 0 };
  failDiscovery = false;
};

/** The STS's answer to the failure (oidc's TokenError through the STS mapping). */
async function err(p: Promise<unknown>): Promise<StsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TokenError);
    return stsErrorOf(e);
  }
  assert.fail('expected an StsError');
}

test('fetches discovery + JWKS over HTTPS trusting the CA bundle, then serves from cache', async () => {
  reset();
  const keys = new ProviderKeys({ url: base, caBundle: ca.cert, thumbprints: [] });
  const a = await keys.getKey('k1', 'RS256');
  const b = await keys.getKey('k1', 'RS256');
  assert.equal(a, b, 'the imported key is cached');
  assert.deepEqual(hits, { discovery: 1, jwks: 1 });
});

test('untrusted TLS without thumbprints: key retrieval error, explanation names TLS', async () => {
  reset();
  const e = await err(
    new ProviderKeys({ url: base, caBundle: otherCa.cert, thumbprints: [] }).getKey('k1', 'RS256'),
  );
  assert.equal(e.message, MSG.keyRetrieval);
  assert.match(e.explanation!, /TLS/);
});

test('thumbprint trust: the top certificate of the chain matches → ok; mismatch → AWS thumbprint message', async () => {
  reset();
  const ok = new ProviderKeys({ url: base, thumbprints: [sha1Thumbprint(ca.cert)] });
  assert.ok(await ok.getKey('k1', 'RS256'));
  const bad = new ProviderKeys({ url: base, thumbprints: [sha1Thumbprint(otherCa.cert)] });
  const e = await err(bad.getKey('k1', 'RS256'));
  assert.equal(e.message, MSG.thumbprint);
  assert.equal(e.code, 'InvalidIdentityToken');
});

test('thumbprint trust holds on every new connection: a resumed TLS session (no peer chain) is never what is checked', async () => {
  // A provider deleted and re-created with the same URL (or keys refetched after the keep-alive socket closed)
  // connects again to the same host: a cached TLS session would resume without the peer's certificates, and the
  // thumbprint check then failed with "doesn't match configured thumbprint".
  reset();
  const trust = { url: base, thumbprints: [sha1Thumbprint(ca.cert)] };
  for (let i = 0; i < 3; i++) {
    server.closeIdleConnections();
    await new Promise((r) => setImmediate(r));
    assert.ok(await new ProviderKeys(trust).getKey('k1', 'RS256'), `connection ${i + 1}`);
  }
  assert.deepEqual(hits, { discovery: 3, jwks: 3 });
});

test('unknown kid triggers one refetch (key rotation), rate-limited for later unknown kids', async () => {
  reset();
  let clock = 1_000_000;
  const keys = new ProviderKeys(
    { url: base, caBundle: ca.cert, thumbprints: [] },
    { now: () => clock, minRefetchMs: 10_000 },
  );
  await keys.getKey('k1', 'RS256');
  served = [k1.jwk, k2.jwk]; // the issuer rotates in k2
  clock += 11_000;
  assert.ok(await keys.getKey('k2', 'RS256'));
  assert.equal(hits.jwks, 2);
  // A flood of forged kids within the window does not hammer the issuer.
  for (let i = 0; i < 5; i++)
    assert.equal((await err(keys.getKey(`forged-${i}`, 'RS256'))).message, MSG.keyRetrieval);
  assert.equal(hits.jwks, 2);
  clock += 11_000;
  await err(keys.getKey('forged-late', 'RS256'));
  assert.equal(hits.jwks, 3, 'refetch allowed again after the window');
});

test('stale keys keep working when the issuer is down; no keys at all → key retrieval error', async () => {
  reset();
  let clock = 0;
  const keys = new ProviderKeys(
    { url: base, caBundle: ca.cert, thumbprints: [] },
    { now: () => clock, ttlMs: 1000, minRefetchMs: 0 },
  );
  await keys.getKey('k1', 'RS256');
  failDiscovery = true;
  clock += 5000;
  assert.ok(await keys.getKey('k1', 'RS256'), 'serve stale on fetch failure');
  const fresh = new ProviderKeys({ url: base, caBundle: ca.cert, thumbprints: [] });
  const e = await err(fresh.getKey('k1', 'RS256'));
  assert.equal(e.message, MSG.keyRetrieval);
  assert.match(e.explanation!, /HTTP 503/);
});

test('inline JWKS never touches the network; http URLs and unreachable hosts are key retrieval errors', async () => {
  reset();
  const inline = new ProviderKeys({
    url: 'https://nowhere.invalid',
    thumbprints: [],
    jwks: { keys: [k1.jwk] },
  });
  assert.ok(await inline.getKey('k1', 'RS256'));
  assert.equal((await err(inline.getKey('k2', 'RS256'))).message, MSG.keyRetrieval);
  assert.equal(hits.discovery, 0);
  const http = new ProviderKeys({
    url: 'https://x.invalid',
    thumbprints: [],
    discovery: { jwks_uri: 'http://127.0.0.1:1/keys' },
  });
  assert.match((await err(http.getKey('k1', 'RS256'))).explanation!, /not an https URL/);
  const down = new ProviderKeys({ url: 'https://127.0.0.1:1', thumbprints: [] }, { timeoutMs: 2000 });
  assert.equal((await err(down.getKey('k1', 'RS256'))).message, MSG.keyRetrieval);
});

test('selectJwk: exact kid, key type and curve must fit the algorithm; no kid → the only usable key', async () => {
  const ec = await makeKey('e1', 'ES256');
  const keys = [k1.jwk, ec.jwk];
  assert.equal(selectJwk(keys, 'k1', 'RS256'), k1.jwk);
  assert.equal(selectJwk(keys, 'k1', 'ES256'), undefined);
  assert.equal(selectJwk(keys, 'e1', 'ES384'), undefined);
  assert.equal(selectJwk(keys, undefined, 'ES256'), ec.jwk);
  assert.equal(selectJwk([k1.jwk, k2.jwk], undefined, 'RS256'), undefined);
  assert.equal(selectJwk([{ ...k1.jwk, use: 'enc' }], 'k1', 'RS256'), undefined);
  assert.equal(selectJwk([{ ...k1.jwk, kid: '' }], '', 'RS256')?.kid, '');
});

test('a JWKS of more than 100 keys is unusable, as reported for AWS', async () => {
  const many = Array.from({ length: 101 }, (_, i) => ({ ...k1.jwk, kid: `k${i}` }));
  const keys = new ProviderKeys({ url: 'https://a.example', thumbprints: [], jwks: { keys: many } });
  const e = await err(keys.getKey('k1', 'RS256'));
  assert.equal(e.message, MSG.keyRetrieval);
  assert.match(e.explanation!, /101 keys/);
});

test('KeyStore routes by provider URL', async () => {
  const trust: ProviderTrust = { url: 'https://a.example', thumbprints: [], jwks: { keys: [k1.jwk] } };
  const store = new KeyStore([trust]);
  assert.ok(
    await store.getKey(
      { url: 'https://a.example', arn: 'x', clientIds: [], keyPrefix: 'a.example' },
      'k1',
      'RS256',
    ),
  );
  await err(
    store.getKey(
      { url: 'https://b.example', arn: 'y', clientIds: [], keyPrefix: 'b.example' },
      'k1',
      'RS256',
    ),
  );
});

test('a fetched JWKS entry that is null, private or symmetric is left out with a warning, never a 500', async () => {
  reset();
  const warnings: string[] = [];
  served = [null as never, { ...k2.jwk, d: 'c2VjcmV0' }, { kty: 'oct', kid: 'h', k: 'c2VjcmV0' }, k1.jwk];
  const keys = new ProviderKeys(
    { url: base, caBundle: ca.cert, thumbprints: [] },
    { onWarning: (w) => warnings.push(w.message) },
  );
  assert.ok(await keys.getKey('k1', 'RS256'), 'the usable entry still verifies');
  assert.equal(warnings.length, 3);
  assert.match(warnings[0]!, /keys\[0\] is null, not a JWK object; entry ignored/);
  assert.match(warnings[1]!, /keys\[1\] holds private key members \(d\)/);
  assert.match(warnings[2]!, /keys\[2\] is a symmetric key/);
  // The key published with its private half is never trusted: its tokens fail, and the reason says why.
  const e = await err(keys.getKey('k2', 'RS256'));
  assert.equal(e.message, MSG.keyRetrieval);
  assert.match(e.explanation!, /entries ignored: .*private key members/);
  assert.deepEqual(keys.knownKids(), ['"k1"']);
});

test('failed fetches are rate-limited too (negative cache): 20 requests, one fetch, one failure report', async () => {
  reset();
  failDiscovery = true;
  let clock = 0;
  const reports: string[] = [];
  const keys = new ProviderKeys(
    { url: base, caBundle: ca.cert, thumbprints: [] },
    { now: () => clock, minRefetchMs: 10_000, onFetch: (f) => reports.push(f.error ?? 'ok') },
  );
  const errors = await Promise.all(Array.from({ length: 20 }, () => err(keys.getKey('k1', 'RS256'))));
  for (const e of errors) assert.match(e.explanation!, /HTTP 503/);
  for (let i = 0; i < 5; i++)
    assert.match((await err(keys.getKey(`k${i}`, 'RS256'))).explanation!, /HTTP 503/);
  assert.equal(hits.discovery, 1, 'one outbound fetch for 25 requests');
  assert.equal(reports.length, 1, 'the failure is reported once per interval');
  clock += 10_000;
  failDiscovery = false;
  assert.ok(await keys.getKey('k1', 'RS256'), 'after the interval the next request fetches again');
  assert.equal(hits.discovery, 2);
});

test('a fetch has a total deadline: an issuer trickling one byte at a time cannot hold verification', async () => {
  reset();
  const keys = new ProviderKeys(
    { url: base, caBundle: ca.cert, thumbprints: [], discovery: { jwks_uri: `${base}/trickle` } },
    { deadlineMs: 400, timeoutMs: 5000 },
  );
  const t0 = Date.now();
  const e = await err(keys.getKey('k1', 'RS256'));
  const took = Date.now() - t0;
  assert.equal(e.message, MSG.keyRetrieval);
  assert.match(e.explanation!, /no complete answer from .* within 400 ms/);
  assert.ok(took < 3000, `answered after ${took} ms`);
});

test('stale keys answer at once while the refresh runs in the background', async () => {
  reset();
  let clock = 0;
  let release: () => void = () => undefined;
  let gets = 0;
  const keys = new ProviderKeys(
    { url: 'https://issuer.test', thumbprints: [], discovery: { jwks_uri: 'https://issuer.test/keys' } },
    {
      now: () => clock,
      ttlMs: 1000,
      minRefetchMs: 0,
      get: async () => {
        gets++;
        if (gets > 1) await new Promise<void>((r) => (release = r)); // the refresh hangs
        return JSON.stringify({ keys: gets > 1 ? [k1.jwk, k2.jwk] : [k1.jwk] });
      },
    },
  );
  await keys.getKey('k1', 'RS256');
  clock += 5000;
  assert.ok(await keys.getKey('k1', 'RS256'), 'stale key answered while the refresh hangs');
  assert.equal(gets, 2, 'a refresh was started');
  // An unknown kid joins the refresh under way instead of failing or starting another.
  const k2Key = keys.getKey('k2', 'RS256');
  release();
  assert.ok(await k2Key);
  assert.equal(gets, 2);
});
