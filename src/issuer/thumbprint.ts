/**
 * The thumbprint AWS IAM asks for when creating an OIDC provider: the hex SHA-1 of the top
 * intermediate CA certificate of the issuer's HTTPS chain — per AWS's procedure, the LAST certificate
 * the server presents (openssl s_client -showcerts). Only certificates the server actually sends are
 * considered: the connection trusts nothing, so no local trust store can extend the chain.
 */
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, connect, rootCertificates } from 'node:tls';
import { IssuerError } from './errors.js';
import { presentedChain, sha1Hex } from '../net/tls-chain.js';

export interface ChainCertificate {
  subject: string;
  issuer: string;
  /** SHA-1 fingerprint, 40 lower-case hex digits (the thumbprint format). */
  sha1: string;
  selfSigned: boolean;
  isCa: boolean;
  notAfter: string;
}

export interface ThumbprintResult {
  host: string;
  port: number;
  /** As presented, leaf first. */
  chain: ChainCertificate[];
  /** Index in `chain` of the certificate the thumbprint is of. */
  used: number;
  thumbprint: string;
  warnings: string[];
  /** Whether the chain is trusted (system roots plus the extra CA), with the reason when not. */
  trusted: boolean;
  trustError?: string;
}

function describe(der: Buffer): ChainCertificate {
  const c = new X509Certificate(der);
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    sha1: sha1Hex(der),
    selfSigned: c.checkIssued(c),
    isCa: c.ca,
    notAfter: c.validTo,
  };
}

/** Chooses the certificate AWS documents: the last one presented. Pure. */
export function thumbprintFromChain(chain: ChainCertificate[]): {
  used: number;
  thumbprint: string;
  warnings: string[];
} {
  if (chain.length === 0) throw new IssuerError('FetchFailed', 'the server presented no certificate');
  const used = chain.length - 1;
  const warnings: string[] = [];
  if (used === 0) {
    warnings.push(
      'the server presents only its own certificate: this thumbprint is of the leaf and changes at every renewal; serve the full chain',
    );
  }
  return { used, thumbprint: chain[used]!.sha1, warnings };
}

function readPresentedChain(host: string, port: number, servername: string | undefined): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    // ca: [] trusts nothing, so Node cannot add certificates from a local store to the chain: what
    // getPeerCertificate(true) then returns is what the server sent (as the STS reads it for a ThumbprintList).
    const socket = connect(
      { host, port, servername, ca: [], rejectUnauthorized: false, timeout: 10_000 },
      () => {
        const ders = presentedChain(socket);
        socket.end();
        resolve(ders);
      },
    );
    socket.on('timeout', () => socket.destroy(new Error('timed out')));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      reject(new IssuerError('FetchFailed', `cannot connect to ${host}:${port}: ${err.code ?? err.message}`)),
    );
  });
}

/** Whether a client trusting the system roots (plus `ca`) accepts the server's chain and name. */
function trustOf(
  host: string,
  port: number,
  servername: string | undefined,
  ca: string | undefined,
): Promise<{ trusted: boolean; trustError?: string }> {
  return new Promise((resolve) => {
    const socket = connect(
      {
        host,
        port,
        servername,
        ca: ca ? [...rootCertificates, ca] : [...rootCertificates],
        rejectUnauthorized: false,
        timeout: 10_000,
      },
      () => {
        let trustError = socket.authorized ? undefined : String(socket.authorizationError);
        if (!trustError) {
          const nameError = checkServerIdentity(host, socket.getPeerCertificate());
          if (nameError) trustError = nameError.message;
        }
        socket.end();
        resolve(trustError ? { trusted: false, trustError } : { trusted: true });
      },
    );
    socket.on('timeout', () => socket.destroy(new Error('timed out')));
    socket.on('error', (err: Error) => resolve({ trusted: false, trustError: err.message }));
  });
}

export interface ThumbprintOptions {
  /** Extra trusted CA (PEM) for the trust verdict. */
  ca?: string;
}

/** Connects to the issuer's host and computes the thumbprint AWS documents. */
export async function thumbprintOf(
  issuerUrl: string,
  options: ThumbprintOptions = {},
): Promise<ThumbprintResult> {
  let u: URL;
  try {
    u = new URL(issuerUrl);
  } catch {
    throw new IssuerError('UrlInvalid', `"${issuerUrl}" is not a valid URL`);
  }
  if (u.protocol !== 'https:')
    throw new IssuerError('UrlInvalid', `"${issuerUrl}" is not https: there is no certificate`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : 443;
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  const ders = await readPresentedChain(host, port, isIp ? undefined : host);
  const chain = ders.map(describe);
  const pick = thumbprintFromChain(chain);
  const trust = await trustOf(host, port, isIp ? undefined : host, options.ca);
  return { host, port, chain, ...pick, ...trust };
}
