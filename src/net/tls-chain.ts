/**
 * The certificate chain a TLS server presents and the thumbprint AWS IAM takes of it: the hex SHA-1 of the LAST
 * certificate the server sends (openssl s_client -showcerts; IAM User Guide, "Obtain the thumbprint for an OpenID
 * Connect identity provider"). One walk and one choice for both `openirsa issuer thumbprint`, which prints the value,
 * and the STS, which checks a provider's ThumbprintList with it, so the two cannot disagree.
 *
 * Only a socket that trusts no CA (`ca: []`) shows exactly what the server sent: with a trust store, Node completes
 * the chain from the store (getPeerCertificate(true) looks issuers up there), and the top would be a local root.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { checkServerIdentity, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';

/** Longest chain read: real chains have 2-4 certificates; a loop or a flood stops here. */
export const MAX_CHAIN_CERTIFICATES = 10;

/** The DER certificates of a socket's peer, leaf first, each once. */
export function presentedChain(socket: TLSSocket): Buffer[] {
  const ders: Buffer[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && ders.length < MAX_CHAIN_CERTIFICATES) {
    seen.add(cert.fingerprint256);
    ders.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return ders;
}

/** SHA-1 of a DER certificate, 40 lower-case hex digits: the thumbprint format. */
export function sha1Hex(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex');
}

/** The thumbprint AWS takes of a chain: of its last certificate. Undefined for an empty chain. */
export function chainThumbprint(ders: readonly Buffer[]): string | undefined {
  const top = ders[ders.length - 1];
  return top ? sha1Hex(top) : undefined;
}

/**
 * Why a pinned connection is refused (undefined = accepted): the presented chain must be consistent (each
 * certificate signed by the next), name the host, and end in a certificate whose thumbprint is listed.
 */
export function pinnedChainProblem(
  socket: TLSSocket,
  host: string,
  thumbprints: readonly string[],
): string | undefined {
  const ders = presentedChain(socket);
  if (ders.length === 0) return 'the server presented no certificate';
  const x = ders.map((d) => new X509Certificate(d));
  for (let i = 0; i + 1 < x.length; i++)
    if (!x[i]!.verify(x[i + 1]!.publicKey)) return 'the presented certificate chain is not consistent';
  const idErr = checkServerIdentity(host, socket.getPeerCertificate());
  if (idErr) return idErr.message;
  const top = chainThumbprint(ders)!;
  if (!thumbprints.includes(top)) return `thumbprint ${top} of the top certificate is not in ThumbprintList`;
  return undefined;
}
