/**
 * A small local certificate authority: a self-signed CA and leaf certificates signed by it.
 * Used by `openirsa dev`, the webhook's self-signed bootstrap and the tests (real HTTPS, real chains).
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto, randomBytes, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { sha1Hex } from '../net/tls-chain.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type CryptoKey = webcrypto.CryptoKey;

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface PemPair {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PKCS#8 PEM. */
  key: string;
}

export interface CertificateAuthority extends PemPair {
  /** @internal signing material kept as CryptoKeys to issue leaves without re-importing. */
  readonly signer: { privateKey: CryptoKey; certificate: x509.X509Certificate };
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // a positive INTEGER
  return bytes.toString('hex');
}

function keyPem(der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function createCa(commonName = 'openirsa local CA', days = 3650): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: EC_ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: certificate.toString('pem') + '\n',
    key: keyPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) + '\n',
    signer: { privateKey: keys.privateKey, certificate },
  };
}

export interface LeafOptions {
  commonName?: string;
  /** DNS names for the subjectAltName; default localhost. */
  dnsNames?: string[];
  /** IP addresses for the subjectAltName; default 127.0.0.1 and ::1. */
  ipAddresses?: string[];
  days?: number;
  /** Add clientAuth to the extended key usage (kube-apiserver client certificates). */
  client?: boolean;
  /** Subject organisation (for Kubernetes client certs: the group, e.g. system:masters). */
  organization?: string;
}

/** A leaf certificate for a server (and/or client) signed by `ca`. */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: LeafOptions = {},
): Promise<PemPair> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const dnsNames = options.dnsNames ?? ['localhost'];
  const ips = options.ipAddresses ?? ['127.0.0.1', '::1'];
  const names = [
    ...dnsNames.map((v) => ({ type: 'dns' as const, value: v })),
    ...ips.map((v) => ({ type: 'ip' as const, value: v })),
  ];
  const subject = [`CN=${options.commonName ?? dnsNames[0] ?? 'openirsa'}`];
  if (options.organization) subject.unshift(`O=${options.organization}`);
  const usages = [x509.ExtendedKeyUsage.serverAuth];
  if (options.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: subject.join(', '),
    issuer: ca.signer.certificate.subject,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + (options.days ?? 825) * DAY_MS),
    signingAlgorithm: EC_ALG,
    publicKey: keys.publicKey,
    signingKey: ca.signer.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(usages),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.signer.certificate),
    ],
  });
  return {
    cert: certificate.toString('pem') + '\n',
    key: keyPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) + '\n',
  };
}

/** Re-load a CA written earlier (cert + PKCS#8 key PEM) so it can issue more leaves. */
export async function loadCa(pair: PemPair): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(pair.cert);
  const der = x509.PemConverter.decode(pair.key)[0];
  if (!der) throw new Error('CA key file holds no PEM block');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
  return { ...pair, signer: { privateKey, certificate } };
}

/** SHA-1 fingerprint (lowercase hex, no colons) as AWS writes OIDC thumbprints. */
export function sha1Thumbprint(certPem: string): string {
  return sha1Hex(new X509Certificate(certPem).raw);
}
