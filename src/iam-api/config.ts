/**
 * The `iamApi` section of the STS config: who may call the IAM API and where its changes are stored.
 *
 *   iamApi:
 *     admin: { accessKeyId: AKIA…, secretAccessKeyFile: admin.secret }   # labs: a key allowed everything
 *     sessionCredentials: true        # STS-issued credentials, allowed what their role's policies allow
 *     store: { file: iam-state.json } # or { kubernetes: { namespace: openirsa } }; default: a file beside the config
 *     trustPolicyMaxSize: 2048        # ACLSizePerRole quota (4096 when raised)
 */
import { basename, dirname, extname, join, resolve } from 'node:path';
import { OpenIrsaError, messageOf } from '../errors.js';

export const DEFAULT_ADMIN_USER = 'openirsa-admin';
export const DEFAULT_STATE_SUFFIX = '.iam-state.json';

export type IamStoreConfig =
  | { type: 'file'; file: string }
  | { type: 'kubernetes'; namespace: string; kubeconfig?: string }
  | { type: 'memory' };

export interface IamApiConfig {
  admin?: { accessKeyId: string; secretAccessKey: string; userName: string };
  sessionCredentials: boolean;
  store: IamStoreConfig;
  trustPolicyMaxSize: number;
}

/** A problem at `path` inside the section; the config loader names the file. */
export class IamApiConfigError extends OpenIrsaError {
  constructor(
    readonly path: string,
    what: string,
  ) {
    super('IamApiConfigInvalid', what);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function known(o: Obj, path: string, keys: string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k))
      throw new IamApiConfigError(`${path}.${k}`, `unknown key (known: ${keys.join(', ')})`);
}

function str(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new IamApiConfigError(`${path}.${key}`, 'must be a non-empty string');
  return v;
}

/** The state file `sts serve` uses when the config names none: beside the config, `<name>.iam-state.json`. */
export function defaultStateFile(configFile: string): string {
  const abs = resolve(configFile);
  return join(dirname(abs), basename(abs, extname(abs)) + DEFAULT_STATE_SUFFIX);
}

export function readIamApiConfig(
  raw: unknown,
  configFile: string,
  readFile: (path: string) => string,
): IamApiConfig {
  const path = 'iamApi';
  if (!isObj(raw))
    throw new IamApiConfigError(path, 'must be a mapping (admin, sessionCredentials, store, ...)');
  known(raw, path, ['admin', 'sessionCredentials', 'store', 'trustPolicyMaxSize']);
  const baseDir = dirname(resolve(configFile));
  let admin: IamApiConfig['admin'];
  if (raw.admin !== undefined) {
    const a = raw.admin;
    const ap = `${path}.admin`;
    if (!isObj(a))
      throw new IamApiConfigError(ap, 'must be {accessKeyId, secretAccessKey | secretAccessKeyFile}');
    known(a, ap, ['accessKeyId', 'secretAccessKey', 'secretAccessKeyFile', 'userName']);
    const accessKeyId = str(a, 'accessKeyId', ap);
    if (!accessKeyId || !/^AKIA[A-Z0-9]{12,124}$/.test(accessKeyId))
      throw new IamApiConfigError(
        `${ap}.accessKeyId`,
        'must be AKIA followed by 12-124 upper-case letters or digits (a long-term key id)',
      );
    const inline = str(a, 'secretAccessKey', ap);
    const file = str(a, 'secretAccessKeyFile', ap);
    if ((inline === undefined) === (file === undefined))
      throw new IamApiConfigError(ap, 'give exactly one of secretAccessKey and secretAccessKeyFile');
    let secret = inline;
    if (file !== undefined) {
      try {
        secret = readFile(resolve(baseDir, file)).trim();
      } catch (err) {
        throw new IamApiConfigError(
          `${ap}.secretAccessKeyFile`,
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
        );
      }
    }
    if (!secret || secret.length < 40)
      throw new IamApiConfigError(
        `${ap}.secretAccessKey`,
        'must be at least 40 characters (like an AWS secret access key)',
      );
    const userName = str(a, 'userName', ap) ?? DEFAULT_ADMIN_USER;
    if (!/^[\w+=,.@-]{1,64}$/.test(userName))
      throw new IamApiConfigError(`${ap}.userName`, 'must be 1-64 characters of [\\w+=,.@-]');
    admin = { accessKeyId, secretAccessKey: secret, userName };
  }
  const sc = raw.sessionCredentials ?? true;
  if (typeof sc !== 'boolean')
    throw new IamApiConfigError(`${path}.sessionCredentials`, 'must be true or false');
  let store: IamStoreConfig = { type: 'file', file: defaultStateFile(configFile) };
  if (raw.store !== undefined) {
    const s = raw.store;
    const sp = `${path}.store`;
    if (s === 'memory') store = { type: 'memory' };
    else {
      if (!isObj(s))
        throw new IamApiConfigError(sp, 'must be {file: PATH}, {kubernetes: {namespace: NS}} or "memory"');
      known(s, sp, ['file', 'kubernetes']);
      if ((s.file === undefined) === (s.kubernetes === undefined))
        throw new IamApiConfigError(sp, 'give exactly one of file and kubernetes');
      if (s.file !== undefined) store = { type: 'file', file: resolve(baseDir, str(s, 'file', sp)!) };
      else {
        const k = s.kubernetes;
        const kp = `${sp}.kubernetes`;
        if (!isObj(k)) throw new IamApiConfigError(kp, 'must be {namespace: NS[, kubeconfig: FILE]}');
        known(k, kp, ['namespace', 'kubeconfig']);
        const namespace = str(k, 'namespace', kp);
        if (!namespace || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
          throw new IamApiConfigError(`${kp}.namespace`, 'must be a Kubernetes namespace name');
        const kubeconfig = str(k, 'kubeconfig', kp);
        store = {
          type: 'kubernetes',
          namespace,
          ...(kubeconfig ? { kubeconfig: resolve(baseDir, kubeconfig) } : {}),
        };
      }
    }
  }
  const size = raw.trustPolicyMaxSize ?? 2048;
  if (size !== 2048 && size !== 4096)
    throw new IamApiConfigError(
      `${path}.trustPolicyMaxSize`,
      'must be 2048 (the default quota) or 4096 (raised)',
    );
  if (!admin && sc === false)
    throw new IamApiConfigError(path, 'allows no caller: give admin, or leave sessionCredentials true');
  return { admin, sessionCredentials: sc, store, trustPolicyMaxSize: size };
}
