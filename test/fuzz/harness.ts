/**
 * Seeded fuzzing of the three parts that read hostile input: the token verifier, the STS endpoint and the
 * webhook's /mutate. Each case is generated from (target, seed) alone, so a failing seed replays exactly; a failing
 * case is also saved with its input under test/fuzz/regressions/ and replayed by `npm test` (fuzz-regressions.test.ts).
 * The properties checked: no 5xx, no crash (only typed errors), no forged token accepted, no invalid patch, and
 * no unescaped control character or markup in a response.
 */
import { StsService } from '../../src/sts/server.js';
import { TokenError } from '../../src/oidc/errors.js';
import { stsErrorOf } from '../../src/sts/token-errors.js';
import { verifyToken } from '../../src/oidc/verify.js';
import { KeyStore } from '../../src/oidc/keys.js';
import { reviewAdmission } from '../../src/webhook/admission.js';
import { config as mutationConfig, irsa } from '../helpers/webhook-mutate.js';
import { claims, makeKey, signToken, testConfig, NOW, ROLE_ARN } from '../helpers/sts-fixtures.js';
import { prng } from '../helpers/prng.js';

export type Target = 'verifier' | 'sts' | 'mutate';
export const TARGETS: Target[] = ['verifier', 'sts', 'mutate'];

/** A case as saved: the input itself (replay does not depend on the generator staying the same). */
export interface FuzzCase {
  target: Target;
  seed: number;
  /** verifier: the token; sts: the form body; mutate: the request body. */
  input: string;
  /** sts: the query string; mutate: the content type. */
  extra?: string;
}

export { prng };

/** Values that broke parsers elsewhere: control characters, markup, huge and odd numbers, prototype keys. */
const HOSTILE: unknown[] = [
  '',
  '\u0000',
  '\u001b[31mALLOWED\u001b[0m',
  '<script>',
  ']]>&amp;<!--',
  '"\'\\',
  '\ud800',
  '\u202e',
  'a'.repeat(70_000),
  '__proto__',
  'constructor',
  'toString',
  '../../etc/passwd',
  '%00',
  '%',
  '+',
  '=',
  '&',
  ' ',
  '\r\nX-Injected: 1',
  -1,
  0,
  1e308,
  -1e308,
  1.5,
  2 ** 53 + 1,
  Number.MAX_SAFE_INTEGER,
  true,
  null,
  [],
  {},
  [null],
  { __proto__: { polluted: 1 } },
  JSON.parse('{"__proto__":{"polluted":1}}'),
  'arn:aws:iam::111122223333:role/*',
  'system:serviceaccount:*:*',
  'https://issuer.example.com/id/TEST1',
  'sts.amazonaws.com',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function hostileString(r: () => number): string {
  const v = pick(r, HOSTILE);
  if (typeof v === 'string') return v;
  if (r() < 0.3)
    return String.fromCharCode(
      ...Array.from({ length: 1 + Math.floor(r() * 12) }, () => Math.floor(r() * 0x250)),
    );
  return JSON.stringify(v) ?? '';
}

function mutateText(r: () => number, text: string): string {
  let s = text;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const c = r();
    if (c < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 8));
    else if (c < 0.6) s = s.slice(0, at) + hostileString(r).slice(0, 64) + s.slice(at);
    else if (c < 0.8) s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
    else s = s + s.slice(0, Math.floor(r() * s.length));
  }
  return s;
}

function mutateJson(r: () => number, v: unknown, depth = 0): unknown {
  if (depth > 6) return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => (r() < 0.3 ? mutateJson(r, x, depth + 1) : x));
    if (r() < 0.1) out.push(pick(r, HOSTILE));
    if (r() < 0.05) out.length = 0;
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    for (const k of Object.keys(out)) {
      const c = r();
      if (c < 0.08) delete out[k];
      else if (c < 0.2) out[k] = pick(r, HOSTILE);
      else if (c < 0.5) out[k] = mutateJson(r, out[k], depth + 1);
    }
    if (r() < 0.1)
      Object.defineProperty(out, hostileString(r).slice(0, 32), {
        value: pick(r, HOSTILE),
        enumerable: true,
      });
    return out;
  }
  return r() < 0.15 ? pick(r, HOSTILE) : v;
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

const keys = { rsa: await makeKey('k1'), ec: await makeKey('e1', 'ES256') };
const stsConfig = testConfig([keys.rsa, keys.ec]);
const validToken = signToken(keys.rsa, claims());
const validEcToken = signToken(keys.ec, claims());
const keyStore = new KeyStore(stsConfig.providers);
const service = new StsService({ config: stsConfig, now: () => NOW * 1000, keyStore });

export function generate(target: Target, seed: number): FuzzCase {
  const r = prng(seed);
  if (target === 'verifier') {
    const base = r() < 0.5 ? validToken : validEcToken;
    const [h, p, s] = base.split('.') as [string, string, string];
    const c = r();
    let token: string;
    if (c < 0.35) token = mutateText(r, base);
    else if (c < 0.7) {
      const header = mutateJson(r, JSON.parse(Buffer.from(h, 'base64url').toString())) as object;
      const payload = mutateJson(r, JSON.parse(Buffer.from(p, 'base64url').toString())) as object;
      token = `${b64(header)}.${b64(payload)}.${r() < 0.8 ? s : mutateText(r, s)}`;
    } else {
      // Re-signed with the real key: a valid signature over hostile claims must still be judged, never crash.
      const header = mutateJson(r, { alg: 'RS256', kid: 'k1' }) as Record<string, unknown>;
      const payload = mutateJson(r, claims()) as Record<string, unknown>;
      try {
        token = signToken(keys.rsa, payload, { ...header, alg: 'RS256' });
      } catch {
        token = `${b64(header)}.${b64(payload)}.${s}`;
      }
    }
    return { target, seed, input: token };
  }
  if (target === 'sts') {
    const params: Record<string, string> = {
      Action: pick(r, ['AssumeRoleWithWebIdentity', 'AssumeRole', 'GetCallerIdentity', hostileString(r)]),
      Version: r() < 0.9 ? '2011-06-15' : hostileString(r),
      RoleArn: r() < 0.7 ? ROLE_ARN : hostileString(r),
      RoleSessionName: r() < 0.6 ? 'fuzz' : hostileString(r),
      WebIdentityToken: r() < 0.5 ? validToken : generate('verifier', Math.floor(r() * 2 ** 32)).input,
    };
    for (const k of [
      'DurationSeconds',
      'Policy',
      'PolicyArns.member.1.arn',
      'ProviderId',
      'Tags.member.1.Key',
      hostileString(r),
    ])
      if (r() < 0.25) params[k] = hostileString(r);
    let body = new URLSearchParams(params).toString();
    if (r() < 0.3) body = mutateText(r, body);
    const query =
      r() < 0.2
        ? mutateText(
            r,
            'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA/20260101/us-east-1/sts/aws4_request',
          )
        : '';
    return { target, seed, input: body, extra: query };
  }
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', annotations: { 'eks.amazonaws.com/skip-containers': 'a' } },
    spec: {
      serviceAccountName: 'sa',
      containers: [
        { name: 'a', image: 'i', env: [{ name: 'X', value: 'y' }] },
        { name: 'b', image: 'i' },
      ],
      initContainers: [{ name: 'c', image: 'i' }],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
  };
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'default',
      operation: 'CREATE',
      object: pod,
    },
  };
  let body = JSON.stringify(mutateJson(r, review));
  if (r() < 0.25) body = mutateText(r, body);
  const contentType = r() < 0.9 ? 'application/json' : hostileString(r);
  return { target, seed, input: body, extra: contentType };
}

/** Control characters other than tab, LF and CR, and a `<` or `&` that is not markup or an entity. */
export function unescapedXml(body: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(body)) return 'a control character in the XML';
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(body)) return 'a bare & in the XML';
  const text = body.replace(/<\/?[A-Za-z][\w:.-]*( [^<>]*)?\/?>|<\?xml[^>]*\?>/g, '');
  if (/[<>]/.test(text)) return 'a bare < or > in the XML text';
  return undefined;
}

/** Runs one case; resolves to undefined when every property holds, else to what broke. */
export async function check(c: FuzzCase): Promise<string | undefined> {
  try {
    if (c.target === 'verifier') {
      try {
        const v = await verifyToken(c.input, {
          now: NOW,
          providers: stsConfig.providers.map((p) => p),
          getKey: keyStore.getKey,
        });
        // A token that still verifies must be one that was really signed (the base tokens, or one re-signed here).
        if (!v.signatureVerified) return 'accepted without verifying the signature';
        return undefined;
      } catch (err) {
        // A refused token is a TokenError, which the STS answers through its one mapping.
        if (!(err instanceof TokenError)) return `threw ${(err as Error)?.name}: ${(err as Error)?.message}`;
        const answer = stsErrorOf(err);
        if (answer.status >= 500) return `a ${answer.status} (${answer.code}) for a bad token`;
        return undefined;
      }
    }
    if (c.target === 'sts') {
      const out = await service.handle({
        method: 'POST',
        path: '/',
        query: c.extra ?? '',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: c.input,
        secure: true,
      });
      if (out.status >= 500) return `HTTP ${out.status}: ${out.body.slice(0, 300)}`;
      if (out.contentType.includes('xml')) return unescapedXml(out.body);
      return undefined;
    }
    const out = await reviewAdmission({
      contentType: c.extra,
      body: Buffer.from(c.input),
      lookup: async () => irsa(),
      config: mutationConfig(),
      random: () => 0.5,
    });
    if (out.status >= 500) return `HTTP ${out.status}: ${out.body.slice(0, 300)}`;
    if (out.status === 200 && out.headers['content-type']?.includes('json') !== false) {
      let review: { response?: { patch?: string; patchType?: string } };
      try {
        review = JSON.parse(out.body) as typeof review;
      } catch {
        return `a 200 whose body is not JSON: ${out.body.slice(0, 200)}`;
      }
      const patch = review.response?.patch;
      if (patch !== undefined) {
        let ops: unknown;
        try {
          ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
        } catch {
          return 'a patch that is not base64 JSON';
        }
        if (!Array.isArray(ops)) return 'a patch that is not a JSON array';
        for (const op of ops as Array<Record<string, unknown>>)
          if (
            !['add', 'replace', 'remove'].includes(String(op?.op)) ||
            typeof op.path !== 'string' ||
            !op.path.startsWith('/')
          )
            return `an invalid patch operation ${JSON.stringify(op).slice(0, 200)}`;
        if (review.response?.patchType !== 'JSONPatch') return 'a patch without patchType JSONPatch';
      }
    }
    return undefined;
  } catch (err) {
    return `crashed: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`;
  }
}
