/** `openirsa issuer <subcommand>`: flags → src/issuer library → printed result. No logic here. */
import { cannotRead, cannotWrite } from '../file-errors.js';
import { access, constants as fsConstants, readFile } from 'node:fs/promises';
import { makeDirs, writeSecretFile } from '../secret-file.js';
import { DEFAULT_LIMITS, parseMaxConnections } from '../net/limits.js';
import { parseFlags, type FlagOptions } from './args.js';
import { CliError, EXIT_BAD_INPUT, inContext } from './errors.js';
import { failureText } from '../net/http-client.js';
import { createLogger } from '../log.js';
import { kubeGet } from '../kube/client.js';
import { loadKubectlConfig } from '../kube/kubectl-config.js';
import {
  IssuerError,
  generateSigningKey,
  writeKeyPair,
  loadPublicKeys,
  loadPrivateKey,
  buildIssuerDocuments,
  documentsFromCluster,
  type ClusterIssuerDocuments,
  writeDocuments,
  readDocuments,
  publishDocuments,
  parsePublishTarget,
  startIssuerServer,
  serveUntilStopped,
  checkIssuer,
  formatFinding,
  assertToken,
  thumbprintOf,
  mintServiceAccountToken,
  parseServiceAccountRef,
  validateIssuerUrl,
  keyIdOf,
  DEFAULT_JWKS_PATH,
  DEFAULT_TOKEN_TTL_SECONDS,
  DEFAULT_MAX_AGE_SECONDS,
  KEYGEN_ALGORITHMS,
} from '../issuer/index.js';

const USAGE = `usage: openirsa issuer <subcommand> [flags]

Make any cluster an OIDC identity provider that AWS STS (and openirsa sts) can trust.

subcommands:
  keygen      create a service-account signing key pair for kube-apiserver
  documents   write the discovery document and JWKS for public keys
  publish     copy the documents to a folder or an S3 bucket and verify them
  serve       serve the documents over HTTPS with caching headers
  check       fetch discovery and JWKS as STS does and report every problem
  thumbprint  the SHA-1 thumbprint AWS IAM asks for, with the chain used
  mint        sign a token shaped like a kube-apiserver projected token

Run 'openirsa issuer <subcommand> --help' for its flags.`;

const HELP: Record<string, string> = {
  keygen: `usage: openirsa issuer keygen --out DIR [--alg RS256|ES256] [--bits 2048|3072|4096] [--force]

Writes DIR/sa-signer.key (PKCS#8 PEM, mode 0600) for kube-apiserver --service-account-signing-key-file
and DIR/sa-signer.pub (SPKI PEM) for --service-account-key-file, and prints the key id.

  --out DIR     folder to write to (created if missing)
  --alg ALG     RS256 (default) or ES256
  --bits N      RSA modulus size: 2048 (default), 3072 or 4096
  --force       replace existing key files (the old key is lost)`,
  documents: `usage: openirsa issuer documents --issuer URL --public-key FILE [--public-key FILE ...] --out DIR
                                  [--jwks-path PATH] [--jwks-uri URL] [--legacy-empty-kid]
       openirsa issuer documents --from-cluster [--kubeconfig FILE] [--context NAME] [--issuer URL] --out DIR
                                  [--jwks-path PATH] [--jwks-uri URL]

Writes DIR/.well-known/openid-configuration and DIR/<jwks path>, as kube-apiserver computes them.

  --issuer URL         the issuer, exactly as --service-account-issuer (https, no query or fragment);
                       with --from-cluster, the public issuer URL (default: the cluster's current issuer)
  --public-key FILE    PEM public key(s), certificate(s) or private key(s); repeat for a rotation set
  --from-cluster       use the cluster's own keys: read the API server's /.well-known/openid-configuration
                       and /openid/v1/jwks (kubeconfig as kubectl finds it); jwks path default openid/v1/jwks
  --kubeconfig FILE    with --from-cluster: the kubeconfig (default $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME       with --from-cluster: the kubeconfig context (default: its current one)
  --out DIR            folder to write (the issuer's root)
  --jwks-path PATH     JWKS location under the issuer (default ${DEFAULT_JWKS_PATH})
  --jwks-uri URL       a full jwks_uri instead of <issuer>/<jwks path> (kube-apiserver --service-account-jwks-uri)
  --legacy-empty-kid   also publish the first key with "kid": "" (API servers older than 1.16)`,
  publish: `usage: openirsa issuer publish --from DIR --to DIR2|s3://bucket/prefix [--jwks-path PATH]

Copies the discovery document and the JWKS it names (nothing else under DIR) with Content-Type
application/json and reads each back to verify. A JWKS holding a private or symmetric key is refused.
S3: endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (path-style), region from AWS_REGION or
AWS_DEFAULT_REGION (default us-east-1), credentials from the standard AWS environment.

  --from DIR     folder written by 'documents'
  --to DEST      a folder, or s3://bucket[/prefix] (the prefix is the issuer URL's path)
  --jwks-path P  the JWKS file under DIR when jwks_uri is outside the issuer (default ${DEFAULT_JWKS_PATH})`,
  serve: `usage: openirsa issuer serve --dir DIR [--port N] [--host H] [--tls-cert PEM --tls-key PEM] [--prefix PATH]
                              [--max-age S]

Serves the discovery document and the JWKS it names (nothing else under DIR; a JWKS holding a
private or symmetric key is refused) with Cache-Control, ETag and Content-Type application/json;
404 for anything else. Without a certificate it serves plain HTTP (with a warning: AWS STS requires https).
SIGHUP re-reads DIR (e.g. after 'documents' wrote a rotation set) and the TLS files (also watched: a
cert-manager rotation is picked up; an invalid pair keeps the current one); SIGINT/SIGTERM stop it.

  --dir DIR        folder written by 'documents'
  --port N         port (default 8443; 0 picks a free one)
  --host H         address to listen on (default 0.0.0.0)
  --tls-cert PEM   certificate chain, leaf first
  --tls-key PEM    its private key
  --prefix PATH    URL path to serve under (default: the path of the issuer in the discovery document)
  --max-age S      Cache-Control max-age in seconds (default ${DEFAULT_MAX_AGE_SECONDS})
  --jwks-path P    the JWKS file under DIR when jwks_uri is outside the issuer (default ${DEFAULT_JWKS_PATH})
  --max-connections N  open connections at most (default ${DEFAULT_LIMITS.maxConnections}); more are closed on accept`,
  check: `usage: openirsa issuer check URL [--token FILE [--client-id ID ...]] [--ca-file PEM] [--json]

Fetches URL/.well-known/openid-configuration and its jwks_uri the way AWS STS does and prints one line
per finding (ok, warning, ERROR). Exits 1 when anything is wrong.

  --token FILE     also check a token: iss, kid published, algorithm, signature, times, aud
  --client-id ID   a client id of the IAM OIDC provider the token's aud must hold (repeatable;
                   default sts.amazonaws.com)
  --ca-file PEM    trust this CA in addition to the system roots
  --json           print the report as JSON`,
  thumbprint: `usage: openirsa issuer thumbprint URL [--ca-file PEM] [--json]

Prints the chain the server presents and, last, the SHA-1 thumbprint AWS IAM asks for: that of the
top intermediate CA, i.e. the last certificate presented (as AWS documents it).

  --ca-file PEM    trust this CA too when reporting whether the chain is trusted
  --json           print the result as JSON`,
  mint: `usage: openirsa issuer mint --key FILE --issuer URL --service-account NS/NAME [--audience AUD ...]
                             [--ttl S] [--pod NAME --pod-uid UID] [--sa-uid UID] [--out FILE]

Signs a token with exactly the claims and header of a kube-apiserver projected token. For
development and tests only.

  --key FILE                 signing key (PEM private key)
  --issuer URL               the iss claim
  --service-account NS/NAME  the ServiceAccount
  --audience AUD             repeatable (default sts.amazonaws.com)
  --ttl S                    lifetime in seconds (default ${DEFAULT_TOKEN_TTL_SECONDS})
  --pod NAME --pod-uid UID   bind the token to a pod
  --sa-uid UID               the ServiceAccount's uid (default random)
  --out FILE                 write the token to FILE (mode 0600) instead of stdout`,
};

function warn(message: string): void {
  console.error(`openirsa: warning: ${message}`);
}

/** A subcommand's flags (and --help), with at most `positionals` arguments; errors begin with `issuer <sub>:`. */
function parse<const T extends FlagOptions>(sub: string, argv: string[], options: T, positionals = 0) {
  const parsed = parseFlags(
    `issuer ${sub}`,
    argv,
    { ...options, help: { type: 'boolean', short: 'h' } },
    { allowPositionals: true, describe: (p) => `issuer ${sub}: ${p.message}` },
  );
  if (parsed.positionals.length > positionals) {
    throw new CliError(`issuer ${sub}: unexpected argument "${parsed.positionals[positionals]}"`);
  }
  return parsed;
}

function need(sub: string, values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new CliError(`issuer ${sub}: --${name} is required`);
  return v;
}

function intFlag(sub: string, s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new CliError(`issuer ${sub}: --${name} must be a whole number (got "${s}")`);
  return Number(s);
}

async function readPem(sub: string, file: string | undefined, what: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(cannotRead(what, file, err));
  }
}

async function keygen(argv: string[]): Promise<number> {
  const { values } = parse('keygen', argv, {
    out: { type: 'string' },
    alg: { type: 'string' },
    bits: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) return help('keygen');
  const out = need('keygen', values, 'out');
  const alg = values.alg ?? 'RS256';
  const algorithm = KEYGEN_ALGORITHMS.find((a) => a === alg);
  if (!algorithm) {
    throw new CliError(`issuer keygen: --alg must be ${KEYGEN_ALGORITHMS.join(' or ')} (got "${alg}")`);
  }
  // An unusable --out fails at once, before a key is generated (RSA 4096 takes seconds).
  try {
    await makeDirs(out, 0o755);
    await access(out, fsConstants.W_OK);
  } catch (err) {
    throw new CliError(`issuer keygen: ${cannotWrite('--out', out, err)}`);
  }
  const pair = generateSigningKey({
    alg: algorithm,
    bits: intFlag('keygen', values.bits, 'bits'),
  });
  const files = await writeKeyPair(out, pair, { force: values.force === true });
  console.log(`wrote ${files.privateKeyFile} (private, 0600) and ${files.publicKeyFile}`);
  console.log(`alg ${pair.alg}, kid ${keyIdOf(pair.publicKey)}`);
  return 0;
}

async function documents(argv: string[]): Promise<number> {
  const { values } = parse('documents', argv, {
    issuer: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
    out: { type: 'string' },
    'jwks-path': { type: 'string' },
    'jwks-uri': { type: 'string' },
    'legacy-empty-kid': { type: 'boolean' },
    'from-cluster': { type: 'boolean' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
  });
  if (values.help) return help('documents');
  const out = need('documents', values, 'out');
  const keyFiles = values['public-key'] ?? [];
  const fromCluster = values['from-cluster'] === true;
  let docs;
  if (fromCluster) {
    if (keyFiles.length > 0)
      throw new CliError('issuer documents: --from-cluster and --public-key exclude each other');
    if (values['legacy-empty-kid'])
      throw new CliError('issuer documents: --legacy-empty-kid needs --public-key');
    const cluster = await readClusterIssuer(values.kubeconfig, values.context);
    docs = await documentsFromCluster(cluster, {
      issuer: values.issuer,
      jwksPath: values['jwks-path'],
      jwksUri: values['jwks-uri'],
    });
    console.log(`read ${docs.jwks.keys.length} key(s) of the cluster's issuer ${docs.clusterIssuer}`);
  } else {
    if (values.kubeconfig !== undefined || values.context !== undefined) {
      throw new CliError('issuer documents: --kubeconfig and --context go with --from-cluster');
    }
    const issuer = need('documents', values, 'issuer');
    if (keyFiles.length === 0)
      throw new CliError('issuer documents: --public-key (or --from-cluster) is required');
    const publicKeys = [];
    for (const f of keyFiles) publicKeys.push(...(await loadPublicKeys(f)));
    docs = await buildIssuerDocuments({
      issuer,
      publicKeys,
      jwksPath: values['jwks-path'],
      jwksUri: values['jwks-uri'],
      legacyEmptyKid: values['legacy-empty-kid'] === true,
    });
  }
  docs.warnings.forEach(warn);
  for (const path of await writeDocuments(out, docs.files)) console.log(`wrote ${path}`);
  for (const k of docs.jwks.keys) console.log(`key ${k.alg} kid "${k.kid}"`);
  console.log(`issuer ${docs.discovery.issuer}\njwks_uri ${docs.discovery.jwks_uri}`);
  console.log(
    `next: publish ${out} at ${docs.discovery.issuer} ('openirsa issuer publish'), check it ('openirsa issuer check ${docs.discovery.issuer}'), then create the IAM OIDC provider with that exact URL and client id sts.amazonaws.com`,
  );
  return 0;
}

/**
 * The API server's discovery document and JWKS, read with the kubeconfig's credentials (also `setup`'s issuer
 * phase); `what` begins each error message.
 */
export async function readClusterIssuer(
  kubeconfig?: string,
  context?: string,
  what = 'issuer documents',
): Promise<ClusterIssuerDocuments> {
  let kc;
  try {
    kc = loadKubectlConfig({ kubeconfig, context }).kubeConfig;
  } catch (err) {
    throw inContext(`${what}: `, err, EXIT_BAD_INPUT);
  }
  const server = kc.getCurrentCluster()!.server;
  const get = async (path: string): Promise<unknown> => {
    let r;
    try {
      r = await kubeGet(kc, path);
    } catch (err) {
      throw new CliError(`${what}: cannot read ${path} from ${server}: ${failureText(err)}`, 1);
    }
    if (r.status !== 200) {
      const hint =
        r.status === 401 || r.status === 403
          ? ' (the kubeconfig user needs the system:service-account-issuer-discovery ClusterRole)'
          : r.status === 404
            ? ' (the API server serves no issuer discovery: it needs --service-account-issuer and a signing key)'
            : '';
      throw new CliError(`${what}: ${server}${path} answered HTTP ${r.status}${hint}`, 1);
    }
    try {
      return JSON.parse(r.body);
    } catch {
      throw new CliError(`${what}: ${server}${path} is not JSON`, 1);
    }
  };
  return { discovery: await get('/.well-known/openid-configuration'), jwks: await get('/openid/v1/jwks') };
}

async function publish(argv: string[]): Promise<number> {
  const { values } = parse('publish', argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    'jwks-path': { type: 'string' },
  });
  if (values.help) return help('publish');
  const from = need('publish', values, 'from');
  const target = parsePublishTarget(need('publish', values, 'to'));
  const files = await readDocuments(from, { jwksPath: values['jwks-path'] });
  for (const o of await publishDocuments(files, target)) {
    // Said apart so a re-run (or a CI job publishing on every build) shows that nothing was rewritten.
    const verb = o.unchanged ? 'unchanged' : 'published';
    console.log(`${verb} ${o.location} (${o.contentType}, ${o.bytes} bytes, verified)`);
  }
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parse('serve', argv, {
    dir: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    prefix: { type: 'string' },
    'max-age': { type: 'string' },
    'jwks-path': { type: 'string' },
    'max-connections': { type: 'string' },
  });
  if (values.help) return help('serve');
  let maxConnections: number;
  try {
    maxConnections = parseMaxConnections(values['max-connections'] ?? String(DEFAULT_LIMITS.maxConnections));
  } catch (err) {
    throw inContext('issuer serve: ', err, EXIT_BAD_INPUT);
  }
  const dir = need('serve', values, 'dir');
  const port = intFlag('serve', values.port, 'port');
  if (port !== undefined && port > 65535) throw new CliError('issuer serve: --port must be 0-65535');
  const tlsCert = await readPem('serve', values['tls-cert'], 'certificate');
  const tlsKey = await readPem('serve', values['tls-key'], 'key');
  if (!tlsCert && !tlsKey) warn('no --tls-cert/--tls-key: serving plain HTTP, which AWS STS will not accept');
  const server = await startIssuerServer({
    dir,
    port: port ?? 8443,
    host: values.host ?? '0.0.0.0',
    tlsCert,
    tlsKey,
    prefix: values.prefix,
    maxAgeSeconds: intFlag('serve', values['max-age'], 'max-age'),
    jwksPath: values['jwks-path'],
    ...(values['tls-cert'] && values['tls-key']
      ? { tlsFiles: { certFile: values['tls-cert'], keyFile: values['tls-key'] } }
      : {}),
    limits: { maxConnections },
    logger: createLogger({ name: 'issuer' }),
  }).catch((err: unknown) => {
    if (err instanceof IssuerError && err.code === 'PortInUse')
      throw new CliError(
        `issuer serve: ${err.message}: stop what uses it or pass --port N (0 = any free port)`,
        1,
      );
    throw err;
  });
  console.log(`serving ${server.url}/.well-known/openid-configuration`);
  await serveUntilStopped(server, {
    reloaded: (n) => console.error(`openirsa: reloaded ${n} documents from ${dir}`),
    reloadFailed: (message) => warn(`reload failed, still serving the previous documents: ${message}`),
  });
  console.error('openirsa: issuer server stopped');
  return 0;
}

async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'check',
    argv,
    {
      token: { type: 'string' },
      'client-id': { type: 'string', multiple: true },
      'ca-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  if (values.help) return help('check');
  const clientIds = values['client-id'];
  if (clientIds && !values.token) throw new CliError('issuer check: --client-id needs --token');
  const url = positionals[0];
  if (!url) throw new CliError('issuer check: the issuer URL is required');
  if (!URL.canParse(url)) throw new CliError(`issuer check: "${url}" is not a valid URL`);
  const tokenFile = values.token;
  const token = tokenFile
    ? assertToken((await readPem('check', tokenFile, 'token file'))!, tokenFile)
    : undefined;
  const ca = await readPem('check', values['ca-file'], 'CA file');
  const report = await checkIssuer(url, { token, ca, clientIds });
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    for (const f of report.findings) console.log(formatFinding(f));
    const errors = report.findings.filter((f) => f.severity === 'error').length;
    console.log(
      errors === 0 ? `issuer ${url}: OK` : `issuer ${url}: ${errors} problem${errors === 1 ? '' : 's'}`,
    );
  }
  return report.ok ? 0 : 1;
}

async function thumbprint(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'thumbprint',
    argv,
    { 'ca-file': { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  if (values.help) return help('thumbprint');
  const url = positionals[0];
  if (!url) throw new CliError('issuer thumbprint: the issuer URL is required');
  const ca = await readPem('thumbprint', values['ca-file'], 'CA file');
  const r = await thumbprintOf(url, { ca });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  r.warnings.forEach(warn);
  if (!r.trusted) warn(`the chain is not trusted: ${r.trustError ?? 'unknown reason'}`);
  console.log(`# chain presented by ${r.host}:${r.port} (leaf first)`);
  r.chain.forEach((c, i) => {
    const kind = [c.isCa ? 'CA' : 'leaf', c.selfSigned ? 'self-signed' : ''].filter(Boolean).join(', ');
    console.log(
      `# ${i} ${c.subject} (issuer ${c.issuer}; ${kind}; until ${c.notAfter}) sha1 ${c.sha1}${i === r.used ? '  <- thumbprint' : ''}`,
    );
  });
  console.log(r.thumbprint);
  return 0;
}

async function mint(argv: string[]): Promise<number> {
  const { values } = parse('mint', argv, {
    key: { type: 'string' },
    issuer: { type: 'string' },
    'service-account': { type: 'string' },
    audience: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    pod: { type: 'string' },
    'pod-uid': { type: 'string' },
    'sa-uid': { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return help('mint');
  const keyFile = need('mint', values, 'key');
  const issuer = need('mint', values, 'issuer');
  const sa = parseServiceAccountRef(need('mint', values, 'service-account'));
  validateIssuerUrl(issuer, { allowHttp: true }).warnings.forEach(warn);
  const pod = values.pod;
  const podUid = values['pod-uid'];
  if (Boolean(pod) !== Boolean(podUid)) throw new CliError('issuer mint: --pod and --pod-uid go together');
  const ttl = intFlag('mint', values.ttl, 'ttl');
  if (ttl !== undefined && ttl < 600)
    warn(`--ttl ${ttl}: kube-apiserver never issues tokens shorter than 600 s`);
  const token = await mintServiceAccountToken({
    privateKey: await loadPrivateKey(keyFile),
    issuer,
    namespace: sa.namespace,
    serviceAccount: sa.name,
    serviceAccountUid: values['sa-uid'],
    audiences: values.audience ?? ['sts.amazonaws.com'],
    now: new Date(),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(pod && podUid ? { pod: { name: pod, uid: podUid } } : {}),
  });
  const out = values.out;
  if (out) {
    try {
      await writeSecretFile(out, token + '\n', { mode: 0o600 });
    } catch (err) {
      throw new CliError(`issuer mint: ${cannotWrite('', out, err)}`, 1);
    }
    console.error(`openirsa: wrote token to ${out}`);
  } else console.log(token);
  return 0;
}

function help(sub: string): number {
  console.log(HELP[sub]);
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  keygen,
  documents,
  publish,
  serve,
  check,
  thumbprint,
  mint,
};

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  const fn = SUBCOMMANDS[sub];
  if (!fn) throw new CliError(`issuer: unknown subcommand "${sub}"; run 'openirsa issuer --help'`);
  return fn(rest);
}
