/**
 * Service-account signing keys: generation, PEM parsing with kube-apiserver's rules, and files.
 * kube-apiserver signs with RS256 (RSA) or ES256/384/512 (P-256/384/521); nothing else is accepted.
 */
import { cannotRead, cannotWrite } from '../file-errors.js';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { makeDirs, writeSecretFile } from '../secret-file.js';
import { join } from 'node:path';
import { IssuerError } from './errors.js';
import { messageOf } from '../errors.js';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512';
export const KEYGEN_ALGORITHMS = ['RS256', 'ES256'] as const;
export type KeygenAlgorithm = (typeof KEYGEN_ALGORITHMS)[number];
export const RSA_BITS = [2048, 3072, 4096] as const;

/** File names keygen writes (ready for --service-account-signing-key-file / --service-account-key-file). */
export const PRIVATE_KEY_FILE = 'sa-signer.key';
export const PUBLIC_KEY_FILE = 'sa-signer.pub';

const CURVE_ALG: Record<string, SigningAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/** The JWS algorithm kube-apiserver uses for this key, or a KeyUnsupported error. */
export function algorithmOf(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = CURVE_ALG[curve];
    if (alg) return alg;
    throw new IssuerError(
      'KeyUnsupported',
      `EC curve ${curve || '(unknown)'} is not supported by kube-apiserver (use P-256, P-384 or P-521)`,
    );
  }
  throw new IssuerError(
    'KeyUnsupported',
    `${key.asymmetricKeyType ?? 'unknown'} keys are not supported by kube-apiserver (use RSA or EC P-256/384/521)`,
  );
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM. */
  privatePem: string;
  /** SPKI ("PUBLIC KEY") PEM. */
  publicPem: string;
  alg: SigningAlgorithm;
}

export interface KeygenOptions {
  alg?: KeygenAlgorithm;
  /** RSA modulus size; ignored for ES256. */
  bits?: number;
}

export function generateSigningKey(options: KeygenOptions = {}): KeyPair {
  const alg = options.alg ?? 'RS256';
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  if (alg === 'RS256') {
    const bits = options.bits ?? 2048;
    if (!(RSA_BITS as readonly number[]).includes(bits)) {
      throw new IssuerError('BadInput', `RSA key size must be one of ${RSA_BITS.join(', ')} (got ${bits})`);
    }
    pair = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  } else if (alg === 'ES256') {
    if (options.bits !== undefined) {
      throw new IssuerError('BadInput', '--bits applies to RS256 only (ES256 keys are P-256)');
    }
    pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  } else {
    throw new IssuerError(
      'BadInput',
      `algorithm must be one of ${KEYGEN_ALGORITHMS.join(', ')} (got ${String(alg)})`,
    );
  }
  return {
    ...pair,
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    alg,
  };
}

interface PemBlock {
  type: string;
  der: Buffer;
}

function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    const raw = m[2] ?? '';
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED", "DEK-Info") only occur in legacy encrypted keys.
    const type = /^\s*Proc-Type:/m.test(raw) ? 'ENCRYPTED PRIVATE KEY' : m[1]!;
    out.push({ type, der: Buffer.from(raw.replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

function privateFromBlock(block: PemBlock): KeyObject | undefined {
  switch (block.type) {
    case 'PRIVATE KEY':
      return createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8' });
    case 'RSA PRIVATE KEY':
      return createPrivateKey({ key: block.der, format: 'der', type: 'pkcs1' });
    case 'EC PRIVATE KEY':
      return createPrivateKey({ key: block.der, format: 'der', type: 'sec1' });
    case 'ENCRYPTED PRIVATE KEY':
      throw new Error('encrypted private keys are not supported (kube-apiserver cannot read them either)');
    default:
      return undefined;
  }
}

function publicFromBlock(block: PemBlock): KeyObject | undefined {
  switch (block.type) {
    case 'PUBLIC KEY':
      return createPublicKey({ key: block.der, format: 'der', type: 'spki' });
    case 'RSA PUBLIC KEY':
      return createPublicKey({ key: block.der, format: 'der', type: 'pkcs1' });
    case 'CERTIFICATE':
      return new X509Certificate(block.der).publicKey;
    default: {
      const priv = privateFromBlock(block);
      return priv ? createPublicKey(priv) : undefined;
    }
  }
}

function invalid(source: string, err: unknown): IssuerError {
  if (err instanceof IssuerError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new IssuerError('KeyInvalid', `${source}: not a valid key: ${why}`);
}

/** One PEM block as a key kube-apiserver can use; undefined for blocks the reader skips. */
function usableKey<B>(
  block: B,
  read: (block: B) => KeyObject | undefined,
  source: string,
): KeyObject | undefined {
  let key: KeyObject | undefined;
  try {
    key = read(block);
  } catch (err) {
    throw invalid(source, err);
  }
  if (!key) return undefined;
  try {
    algorithmOf(key);
  } catch (err) {
    throw new IssuerError('KeyUnsupported', `${source}: ${messageOf(err)}`);
  }
  return key;
}

/**
 * Every public key in a PEM text, as kube-apiserver's --service-account-key-file reads it
 * (keyutil.ParsePublicKeysPEM): public keys, certificates and private keys (their public half), in
 * file order; other blocks (e.g. "EC PARAMETERS") are skipped. At least one key is required.
 */
export function parsePublicKeys(pem: string, source = 'key'): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const block of pemBlocks(pem)) {
    const key = usableKey(block, publicFromBlock, source);
    if (key) keys.push(key);
  }
  if (keys.length === 0) {
    throw new IssuerError('KeyInvalid', `${source}: contains no PEM public key, certificate or private key`);
  }
  return keys;
}

/**
 * The signing key in a PEM text, as --service-account-signing-key-file reads it: the first private
 * key block (PKCS#8, PKCS#1 RSA or SEC1 EC).
 */
export function parsePrivateKey(pem: string, source = 'key'): KeyObject {
  const blocks = pemBlocks(pem);
  for (const block of blocks) {
    const key = usableKey(block, privateFromBlock, source);
    if (key) return key;
  }
  if (
    blocks.some((b) => b.type === 'PUBLIC KEY' || b.type === 'RSA PUBLIC KEY' || b.type === 'CERTIFICATE')
  ) {
    throw new IssuerError(
      'KeyInvalid',
      `${source}: holds a public key or certificate; a private key is needed to sign`,
    );
  }
  throw new IssuerError('KeyInvalid', `${source}: contains no PEM private key`);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new IssuerError('KeyUnreadable', cannotRead('key file', file, err));
  }
}

export async function loadPublicKeys(file: string): Promise<KeyObject[]> {
  return parsePublicKeys(await readText(file), file);
}

export async function loadPrivateKey(file: string): Promise<KeyObject> {
  return parsePrivateKey(await readText(file), file);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes DIR/sa-signer.key (0600) and DIR/sa-signer.pub (0644). Refuses when either exists unless
 * `force`, so an existing cluster key is never replaced by accident.
 */
export async function writeKeyPair(
  dir: string,
  pair: Pick<KeyPair, 'privatePem' | 'publicPem'>,
  options: { force?: boolean } = {},
): Promise<{ privateKeyFile: string; publicKeyFile: string }> {
  const privateKeyFile = join(dir, PRIVATE_KEY_FILE);
  const publicKeyFile = join(dir, PUBLIC_KEY_FILE);
  if (!options.force) {
    for (const f of [privateKeyFile, publicKeyFile]) {
      if (await exists(f)) throw new IssuerError('KeyExists', `${f} exists; pass --force to replace it`);
    }
  }
  try {
    await makeDirs(dir, 0o755);
    const replace = options.force ?? false;
    await writeSecretFile(privateKeyFile, pair.privatePem, { mode: 0o600, replace });
    await writeSecretFile(publicKeyFile, pair.publicPem, { mode: 0o644, replace });
  } catch (err) {
    if (err instanceof IssuerError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new IssuerError('KeyExists', `a key file appeared in ${dir}; pass --force to replace it`);
    throw new IssuerError('KeyUnreadable', cannotWrite('keys to', dir, err));
  }
  return { privateKeyFile, publicKeyFile };
}
