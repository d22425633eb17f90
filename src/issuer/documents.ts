/**
 * The two files an issuer publishes — discovery and JWKS — computed from public keys, written to a
 * folder laid out as the issuer's URL space (DIR/.well-known/openid-configuration, DIR/<jwks path>).
 */
import { cannotRead, cannotWrite, fsReason } from '../file-errors.js';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkJwks } from '../oidc/jwk.js';
import { MIN_RSA_BITS } from '../oidc/verify.js';
import { IssuerError } from './errors.js';
import { buildDiscovery, type DiscoveryDocument } from './discovery.js';
import { buildJwks, duplicateKeyIds, type Jwks } from './jwks.js';
import { goJson } from './json.js';
import { joinIssuerPath, validateIssuerUrl } from './url.js';

export const DISCOVERY_PATH = '.well-known/openid-configuration';
export const DEFAULT_JWKS_PATH = 'keys.json';
export const JSON_CONTENT_TYPE = 'application/json';

export interface DocumentsOptions {
  issuer: string;
  publicKeys: KeyObject[];
  /** JWKS location under the issuer (default keys.json; kube-apiserver's own is openid/v1/jwks). */
  jwksPath?: string;
  /** A full jwks_uri instead (kube-apiserver --service-account-jwks-uri); the file still goes to jwksPath. */
  jwksUri?: string;
  legacyEmptyKid?: boolean;
  /** Accept an http:// issuer (openirsa labs only). */
  allowHttp?: boolean;
}

export interface DocumentFile {
  /** Path under the issuer root, with "/" separators and no leading "/". */
  path: string;
  body: string;
  contentType: string;
}

export interface IssuerDocuments {
  discovery: DiscoveryDocument;
  jwks: Jwks;
  files: DocumentFile[];
  warnings: string[];
}

export function validateJwksPath(path: string): string {
  const p = path.replace(/^\/+/, '');
  if (
    !p ||
    p.endsWith('/') ||
    p.split('/').some((s) => s === '' || s === '.' || s === '..') ||
    /[?#\\]/.test(p)
  ) {
    throw new IssuerError('BadInput', `JWKS path "${path}" must be a relative file path like keys.json`);
  }
  return p;
}

/** The issuer URL, the JWKS file path and the jwks_uri, validated: what both document builders share. */
export function issuerLocations(options: Omit<DocumentsOptions, 'publicKeys'>): {
  url: string;
  jwksPath: string;
  jwksUri: string;
  warnings: string[];
} {
  const { url, warnings } = validateIssuerUrl(options.issuer, { allowHttp: options.allowHttp });
  const jwksPath = validateJwksPath(options.jwksPath ?? DEFAULT_JWKS_PATH);
  let jwksUri = joinIssuerPath(url, jwksPath);
  if (options.jwksUri !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(options.jwksUri);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'https:' && !(options.allowHttp && u.protocol === 'http:')) || u.hash) {
      throw new IssuerError(
        'UrlInvalid',
        `jwks_uri "${options.jwksUri}" must be an https URL without a fragment`,
      );
    }
    jwksUri = options.jwksUri;
  }
  return { url, jwksPath, jwksUri, warnings };
}

export async function buildIssuerDocuments(options: DocumentsOptions): Promise<IssuerDocuments> {
  const { url, jwksPath, jwksUri, warnings } = issuerLocations(options);
  const jwks = await buildJwks(options.publicKeys, { legacyEmptyKid: options.legacyEmptyKid });
  options.publicKeys.forEach((key, i) => {
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (key.asymmetricKeyType === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS)
      warnings.push(
        `key ${jwks.keys[i]!.kid} is a ${bits}-bit RSA key: STS rejects tokens signed with RSA keys under ${MIN_RSA_BITS} bits`,
      );
  });
  return documentsForJwks(url, jwksPath, jwksUri, jwks, warnings);
}

/** The two files for a JWKS already built (from keys, or read from a cluster). */
export function documentsForJwks(
  url: string,
  jwksPath: string,
  jwksUri: string,
  jwks: Jwks,
  warnings: string[],
): IssuerDocuments {
  const dups = duplicateKeyIds({ keys: jwks.keys.filter((k) => k.kid !== '') });
  for (const kid of dups)
    warnings.push(`key ${kid} is given more than once (kube-apiserver would also list it twice)`);
  const discovery = buildDiscovery(url, jwksUri, jwks);
  return {
    discovery,
    jwks,
    warnings,
    files: [
      { path: DISCOVERY_PATH, body: goJson(discovery), contentType: JSON_CONTENT_TYPE },
      { path: jwksPath, body: goJson(jwks), contentType: JSON_CONTENT_TYPE },
    ],
  };
}

/** Writes the files under `dir` (creating folders); returns the paths written. */
export async function writeDocuments(dir: string, files: DocumentFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const f of files) {
    const target = join(dir, ...f.path.split('/'));
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.body, { mode: 0o644 });
    } catch (err) {
      throw new IssuerError('PublishFailed', cannotWrite('', target, err));
    }
    written.push(target);
  }
  return written;
}

export interface ReadDocumentsOptions {
  /**
   * Where the JWKS file is under the folder when the discovery's jwks_uri lies outside the issuer's URL space
   * (`documents --jwks-uri`); default keys.json.
   */
  jwksPath?: string;
}

/** The JWKS's path under the issuer root from the discovery's jwks_uri; undefined when it lies elsewhere. */
export function jwksPathFromDiscovery(issuer: string, jwksUri: string): string | undefined {
  let i: URL;
  let j: URL;
  try {
    i = new URL(issuer);
    j = new URL(jwksUri);
  } catch {
    return undefined;
  }
  if (i.origin !== j.origin || j.search || j.hash) return undefined;
  const base = i.pathname.replace(/\/+$/, '') + '/';
  if (!j.pathname.startsWith(base)) return undefined;
  try {
    return validateJwksPath(decodeURIComponent(j.pathname.slice(base.length)));
  } catch {
    return undefined;
  }
}

async function readDocument(dir: string, path: string): Promise<string> {
  const full = join(dir, ...path.split('/'));
  try {
    return await readFile(full, 'utf8');
  } catch (err) {
    throw new IssuerError('DocumentInvalid', cannotRead('', full, err));
  }
}

function parseJsonObject(text: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new IssuerError('DocumentInvalid', `${where} is not JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new IssuerError('DocumentInvalid', `${where} is not a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Reads an issuer folder back for `serve` and `publish`: the discovery document and the JWKS it names, nothing
 * else — a private key or a credentials file left in the folder is never exposed. A JWKS holding a private or
 * symmetric key is refused with the reason.
 */
export async function readDocuments(
  dir: string,
  options: ReadDocumentsOptions = {},
): Promise<DocumentFile[]> {
  const discoveryFile = join(dir, ...DISCOVERY_PATH.split('/'));
  let discoveryBody: string;
  try {
    discoveryBody = await readFile(discoveryFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const folderProblem = await stat(dir).then(
      (st) => (st.isDirectory() ? undefined : 'not a folder'),
      (e: unknown) => fsReason(e),
    );
    if (folderProblem)
      throw new IssuerError('BadInput', `cannot read issuer folder ${dir}: ${folderProblem}`);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new IssuerError(
        'DocumentInvalid',
        `${dir} has no ${DISCOVERY_PATH}; run 'openirsa issuer documents' first`,
      );
    throw new IssuerError('BadInput', cannotRead('discovery document', discoveryFile, err));
  }
  const discovery = parseJsonObject(discoveryBody, discoveryFile);
  if (typeof discovery.issuer !== 'string' || typeof discovery.jwks_uri !== 'string')
    throw new IssuerError('DocumentInvalid', `${discoveryFile} has no issuer or jwks_uri`);
  const jwksPath =
    jwksPathFromDiscovery(discovery.issuer, discovery.jwks_uri) ??
    validateJwksPath(options.jwksPath ?? DEFAULT_JWKS_PATH);
  const jwksFile = join(dir, ...jwksPath.split('/'));
  const jwksBody = await readDocument(dir, jwksPath);
  const checked = checkJwks(parseJsonObject(jwksBody, jwksFile));
  if (!checked) throw new IssuerError('DocumentInvalid', `${jwksFile} is not a JWKS: {"keys": [...]}`);
  if (checked.skipped.length > 0)
    throw new IssuerError(
      'DocumentInvalid',
      `${jwksFile} is not a public JWKS, refusing to expose it: ${checked.skipped.join('; ')}`,
    );
  return [
    { path: DISCOVERY_PATH, body: discoveryBody, contentType: JSON_CONTENT_TYPE },
    { path: jwksPath, body: jwksBody, contentType: JSON_CONTENT_TYPE },
  ];
}
