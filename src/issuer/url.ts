/**
 * Issuer URL rules: kube-apiserver's (https, no query, no fragment) and AWS IAM's (https, case
 * sensitive, at most 255 characters, no port). The URL is never rewritten: STS compares `iss` with
 * the IAM provider URL byte for byte, so a "normalised" URL would break federation.
 */
import { IssuerError } from './errors.js';

export interface IssuerUrlCheck {
  /** The URL exactly as given. */
  url: string;
  /** Problems that do not stop kube-apiserver but that a user should see (one line each). */
  warnings: string[];
}

export interface IssuerUrlOptions {
  /** Accept http:// (openirsa's own labs only: kube-apiserver and AWS both refuse it). */
  allowHttp?: boolean;
}

/** Validates an issuer URL; throws IssuerError('UrlInvalid') with the reason, else returns warnings. */
export function validateIssuerUrl(raw: string, options: IssuerUrlOptions = {}): IssuerUrlCheck {
  const fail = (why: string): never => {
    throw new IssuerError('UrlInvalid', `issuer URL "${raw}" ${why}`);
  };
  if (!raw) fail('is empty');
  if (/\s/.test(raw)) fail('contains whitespace');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail('is not a valid URL');
  }
  const scheme = raw.slice(0, raw.indexOf(':')).toLowerCase();
  if (scheme !== 'https' && !(options.allowHttp && scheme === 'http')) {
    fail('must use https (kube-apiserver and AWS IAM both require it)');
  }
  // URL() drops an empty "?" or "#", so look at the raw text too.
  if (u.search || raw.includes('?')) fail('must not have a query');
  if (u.hash || raw.includes('#')) fail('must not have a fragment');
  if (u.username || u.password) fail('must not contain credentials');
  if (!u.hostname) fail('has no host');
  // URL() resolves "/a/../b" to "/b", but STS compares `iss` byte for byte with the text as given: a dot segment
  // (or its percent-encoded form) makes the issuer differ from where its documents are really served.
  const rawPath = raw.slice(raw.indexOf('//') + 2).replace(/^[^/]*/, '');
  if (rawPath.split('/').some((seg) => /^(\.|%2e){1,2}$/i.test(seg)))
    fail('must not contain "." or ".." path segments');
  if (raw.length > 255) fail('is longer than 255 characters (the AWS IAM limit)');
  const warnings: string[] = [];
  if (scheme === 'http') warnings.push(`issuer URL "${raw}" uses http: AWS STS will not accept it`);
  const authority = raw.slice(raw.indexOf('//') + 2).split('/')[0] ?? '';
  if (/:\d*$/.test(authority)) {
    warnings.push(`issuer URL "${raw}" has a port: AWS IAM does not accept one (openirsa sts does)`);
  }
  if (authority !== authority.toLowerCase() || raw.slice(0, scheme.length) !== scheme) {
    warnings.push(
      `issuer URL "${raw}" has upper-case letters in the scheme or host: AWS compares case-sensitively, so every copy must match`,
    );
  }
  const path = raw.slice(raw.indexOf('//') + 2 + authority.length);
  if (path.endsWith('/')) {
    warnings.push(
      `issuer URL "${raw}" ends with "/": kept as given; --service-account-issuer and the IAM provider URL must end with "/" too`,
    );
  }
  return { url: raw, warnings };
}

/** `<issuer>/<path>` with exactly one slash between them (OIDC Discovery strips the issuer's trailing "/"). */
export function joinIssuerPath(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Where a relying party (STS) fetches discovery for this issuer. */
export function discoveryUrl(issuer: string): string {
  return joinIssuerPath(issuer, '.well-known/openid-configuration');
}
