/**
 * The state folder of `openirsa dev`: a local CA, a TLS certificate for the names dev is reached by
 * (localhost, and the --host address), the issuer's signing key. Created on the first run and reused after, so tokens, trust (AWS_CA_BUNDLE) and key ids stay
 * stable between runs. Secrets are written 0600.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { makeDirs, writeSecretFile } from '../secret-file.js';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { createCa, issueCertificate, loadCa, type PemPair } from '../pki/index.js';
import {
  generateSigningKey,
  parsePrivateKey,
  parsePublicKeys,
  writeKeyPair,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
} from '../issuer/index.js';

export interface DevState {
  dir: string;
  caFile: string;
  ca: PemPair;
  tls: PemPair;
  signingKey: KeyObject;
  publicKey: KeyObject;
  /** True when this run created the state (first run). */
  created: boolean;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeSecret(file: string, data: string): Promise<void> {
  await writeSecretFile(file, data, { mode: 0o600 }); // a new file: never an old mode, never through a link
}

/** The names the serving certificate must hold; default: localhost and the loopback addresses. */
export interface ServerNames {
  dnsNames: string[];
  ipAddresses: string[];
}
const LOOPBACK_NAMES: ServerNames = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

/** Whether the certificate names every DNS name and address asked for. */
function namesAll(certPem: string, names: ServerNames): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return (
      names.dnsNames.every((n) => cert.checkHost(n, { wildcards: false }) !== undefined) &&
      names.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
    );
  } catch {
    return false;
  }
}

/** A leaf is renewed when it expires within a week (dev state may live for years). */
function stillValid(certPem: string): boolean {
  try {
    return new Date(new X509Certificate(certPem).validTo).getTime() - Date.now() > 7 * 86_400_000;
  } catch {
    return false;
  }
}

export async function loadOrCreateState(dir: string, names: ServerNames = LOOPBACK_NAMES): Promise<DevState> {
  await makeDirs(dir, 0o700);
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca-key.pem');
  const tlsFile = join(dir, 'tls.crt');
  const tlsKeyFile = join(dir, 'tls.key');
  const keyDir = join(dir, 'issuer-keys');

  let created = false;
  const caCert = await readIfExists(caFile);
  const caKey = await readIfExists(caKeyFile);
  let ca: PemPair;
  if (caCert && caKey && stillValid(caCert)) {
    ca = { cert: caCert, key: caKey };
  } else {
    created = true;
    const fresh = await createCa('openirsa dev local CA');
    ca = { cert: fresh.cert, key: fresh.key };
    await writeFile(caFile, ca.cert, { mode: 0o644 });
    await writeSecret(caKeyFile, ca.key);
  }

  const tlsCert = await readIfExists(tlsFile);
  const tlsKey = await readIfExists(tlsKeyFile);
  let tls: PemPair;
  // Reissued from the same CA when a name is missing (another --host): AWS_CA_BUNDLE stays valid.
  if (!created && tlsCert && tlsKey && stillValid(tlsCert) && namesAll(tlsCert, names)) {
    tls = { cert: tlsCert, key: tlsKey };
  } else {
    tls = await issueCertificate(await loadCa(ca), {
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
    });
    await writeFile(tlsFile, tls.cert, { mode: 0o644 });
    await writeSecret(tlsKeyFile, tls.key);
  }

  const privatePem = await readIfExists(join(keyDir, PRIVATE_KEY_FILE));
  const publicPem = await readIfExists(join(keyDir, PUBLIC_KEY_FILE));
  let signingKey: KeyObject;
  let publicKey: KeyObject;
  if (privatePem && publicPem) {
    signingKey = parsePrivateKey(privatePem, join(keyDir, PRIVATE_KEY_FILE));
    publicKey = parsePublicKeys(publicPem, join(keyDir, PUBLIC_KEY_FILE))[0]!;
  } else {
    created = true;
    const pair = generateSigningKey({ alg: 'RS256', bits: 2048 });
    await writeKeyPair(keyDir, pair, { force: true });
    signingKey = pair.privateKey;
    publicKey = pair.publicKey;
  }
  return { dir, caFile, ca, tls, signingKey, publicKey, created };
}
