/**
 * Stateless sessions: the session token carries the whole session (role, session name, expiry, tags, the secret
 * key itself), encrypted and authenticated with AES-256-GCM under a key the replicas share. Any replica can
 * recover the secret to verify a SigV4 signature; nobody without the key can read or forge a session.
 * Pure: time, randomness and keys are passed in.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { assumedRoleArn } from '../iam/arn.js';
import { base32 } from './config.js';

const VERSION = 1;
const AAD = Buffer.from('openirsa-sts-session-v1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Random bytes of a key id: the top bit and 7 low bits around the account (two bytes), then 4 whole bytes. */
const KEY_ID_RANDOM_BYTES = 6;
/** 30 random bytes are 40 base64 characters. */
const SECRET_RANDOM_BYTES = 30;
/** The longest session token read. */
export const MAX_TOKEN_CHARS = 16384;

export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  partition: string;
  account: string;
  roleName: string;
  /** The role's IAM path (`/` or `/a/b/`), for aws:PrincipalArn when the session assumes another role. */
  rolePath?: string;
  roleId: string;
  sessionName: string;
  /** Epoch milliseconds. */
  issuedAt: number;
  expiresAt: number;
  sourceIdentity?: string;
  tags?: Record<string, string>;
  transitiveTagKeys?: string[];
  /** The IAM OIDC provider ARN for web-identity sessions. */
  provider?: string;
  subject?: string;
  audience?: string;
  /** True when the session came from AssumeRole with another session (role chaining). */
  chained?: boolean;
  sessionPolicy?: string;
  policyArns?: string[];
}

export type Random = (n: number) => Buffer;

/**
 * `ASIA` + 16 base32 characters. Like AWS, the first 6 bytes carry the account id in bits 7..46, so tools that
 * decode an account from a key id (e.g. `aws sts get-access-key-info`-style decoders) find the right one.
 */
export function temporaryAccessKeyId(account: string, random: Random = randomBytes): string {
  return accessKeyIdOf(account, random(KEY_ID_RANDOM_BYTES));
}

function accessKeyIdOf(account: string, r: Uint8Array): string {
  // 48-bit value: random top bit, the account in bits 7..46, 7 random low bits (exact in a double: < 2^53).
  const z = (r[1]! & 0x80) * 2 ** 40 + Number(account) * 128 + (r[0]! & 0x7f);
  const bytes = Buffer.alloc(10);
  bytes.writeUIntBE(z, 0, 6);
  bytes.set(r.subarray(2, 6), 6);
  return 'ASIA' + base32(bytes, 16);
}

/** The account id an AWS-style key id encodes. */
export function accountOfAccessKeyId(accessKeyId: string): string | undefined {
  const s = accessKeyId.slice(4, 14);
  const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let z = 0n;
  for (const c of s) {
    const v = B32.indexOf(c);
    if (v < 0) return undefined;
    z = (z << 5n) | BigInt(v);
  }
  // 10 chars = 50 bits; the first 48 are the 6 bytes.
  z >>= 2n;
  return ((z & 0x7fffffffff80n) >> 7n).toString().padStart(12, '0');
}

/** 40 characters of the base64 alphabet, like AWS secret keys. */
export function secretAccessKey(random: Random = randomBytes): string {
  return random(SECRET_RANDOM_BYTES).toString('base64');
}

const keyIds = new WeakMap<Buffer, number>();
function keyId(key: Buffer): number {
  let id = keyIds.get(key);
  if (id === undefined) {
    id = createHash('sha256').update(key).digest()[0]!;
    keyIds.set(key, id);
  }
  return id;
}

/** Seal a session into an opaque token with the current key (`keys[0]`). */
export function sealSession(session: Session, key: Buffer, random: Random = randomBytes): string {
  return sealWithIv(session, key, random(IV_BYTES));
}

function sealWithIv(session: Session, key: Buffer, iv: Buffer): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(AAD);
  const ct = cipher.update(JSON.stringify(session)); // a string is read as UTF-8
  cipher.final(); // computes the tag; returns nothing more for GCM, a stream mode
  const tag = cipher.getAuthTag();
  // version, key id, iv, ciphertext, tag: one allocation instead of two concatenations.
  const out = Buffer.allocUnsafe(2 + iv.length + ct.length + tag.length);
  out[0] = VERSION;
  out[1] = keyId(key);
  let at = 2 + iv.copy(out, 2);
  at += ct.copy(out, at);
  tag.copy(out, at);
  return out.toString('base64');
}

/** Open a token with any of the keys; undefined when it is not one of ours (forged, corrupted, other key). */
export function openSession(token: string, keys: readonly Buffer[]): Session | undefined {
  // Before decryption: the size bound and the alphabet (the base64 decoder would skip other characters), and the
  // version byte, which the tag does not cover. A token too short to hold IV, tag and a session fails below:
  // GCM refuses a tag under 16 bytes, and only sealSession, which writes a whole session, has the key.
  if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const raw = Buffer.from(token, 'base64');
  if (raw[0] !== VERSION) return undefined;
  const iv = raw.subarray(2, 2 + IV_BYTES);
  const ct = raw.subarray(2 + IV_BYTES, raw.length - TAG_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  for (const key of keys) {
    if (keyId(key) !== raw[1]) continue;
    try {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(AAD);
      d.setAuthTag(tag);
      const plain = Buffer.concat([d.update(ct), d.final()]).toString('utf8');
      // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- GCM-authenticated: only issue() wrote it
      return JSON.parse(plain) as Session;
    } catch {
      // wrong key or tampered: try the next
    }
  }
  return undefined;
}

/** A session to issue: the session's facts, its duration and the time of issue; the keys are made here. */
export interface IssueInput extends Omit<
  Session,
  'accessKeyId' | 'secretAccessKey' | 'issuedAt' | 'expiresAt'
> {
  durationSeconds: number;
  /** Epoch milliseconds. */
  now: number;
}

export interface IssuedCredentials {
  session: Session;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** The session an IssueInput makes, with these keys (`openirsa explain` gives empty ones: it issues nothing). */
export function sessionOf(input: IssueInput, accessKeyId: string, secret: string): Session {
  const { durationSeconds, now } = input;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- the rest of Session is copied from input below
  const session = {
    accessKeyId,
    secretAccessKey: secret,
    issuedAt: now,
    expiresAt: Math.floor(now / 1000) * 1000 + durationSeconds * 1000,
  } as Session;
  // Copy only the fields that are set (no `delete`: it would push the object into slow dictionary mode), and
  // straight from the input (no rest-destructured copy: V8 makes those slowly).
  // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- read as a record only to copy its set fields
  const from = input as unknown as Record<string, unknown>;
  for (const k of Object.keys(from))
    if (k !== 'durationSeconds' && k !== 'now' && from[k] !== undefined)
      // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- k is one of IssueInput's Session fields
      (session as unknown as Record<string, unknown>)[k] = from[k];
  return session;
}

/** New temporary credentials. Expiration = now + DurationSeconds (AWS does not clamp to the token's exp). */
export function issueCredentials(
  input: IssueInput,
  key: Buffer,
  random: Random = randomBytes,
): IssuedCredentials {
  // One draw for the key id, the secret and the IV, in that order: one read of the pool instead of three.
  const r = random(KEY_ID_RANDOM_BYTES + SECRET_RANDOM_BYTES + IV_BYTES);
  const secretEnd = KEY_ID_RANDOM_BYTES + SECRET_RANDOM_BYTES;
  const session = sessionOf(
    input,
    accessKeyIdOf(input.account, r.subarray(0, KEY_ID_RANDOM_BYTES)),
    r.toString('base64', KEY_ID_RANDOM_BYTES, secretEnd),
  );
  return {
    session,
    accessKeyId: session.accessKeyId,
    secretAccessKey: session.secretAccessKey,
    sessionToken: sealWithIv(session, key, r.subarray(secretEnd)),
    expiration: new Date(session.expiresAt),
  };
}

/** `arn:<p>:sts::<account>:assumed-role/<role>/<session>` for a session. */
export function sessionArn(s: Session): string {
  return assumedRoleArn(s.partition, s.account, s.roleName, s.sessionName);
}
