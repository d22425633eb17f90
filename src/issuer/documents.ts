/**
 * The two files an issuer publishes — discovery and JWKS — computed from public keys, written to a
 * folder laid out as the issuer's URL space (DIR/.well-known/openid-configuration, DIR/<jwks path>).
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
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
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new IssuerError('PublishFailed', `cannot write ${target}: ${code}`);
    }
    written.push(target);
  }
  return written;
}

/**
 * Reads an issuer folder back: every regular file (hidden folders included, as .well-known is one),
 * sorted by path. The discovery document must be there and be JSON.
 */
export async function readDocuments(dir: string): Promise<DocumentFile[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new IssuerError('BadInput', `cannot read issuer folder ${dir}: ${code}`);
  }
  const files: DocumentFile[] = [];
  for (const full of entries.sort()) {
    const path = relative(dir, full).split(sep).join('/');
    files.push({ path, body: await readFile(full, 'utf8'), contentType: JSON_CONTENT_TYPE });
  }
  const discovery = files.find((f) => f.path === DISCOVERY_PATH);
  if (!discovery)
    throw new IssuerError(
      'DocumentInvalid',
      `${dir} has no ${DISCOVERY_PATH}; run 'openirsa issuer documents' first`,
    );
  for (const f of files) {
    try {
      JSON.parse(f.body);
    } catch {
      throw new IssuerError('DocumentInvalid', `${join(dir, f.path)} is not JSON`);
    }
  }
  return files;
}
