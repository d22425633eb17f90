/** `openirsa setup`: flags → a spec; read what exists; plan (src/setup/plan.ts); print, render or execute. */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { IAMClient } from '@aws-sdk/client-iam';
import type { KubeConfig } from '@kubernetes/client-node';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { parseFlags, type FlagValues } from './args.js';
import { CliError, EXIT_BAD_INPUT, EXIT_FAILED, exitStatusOf, inContext } from './errors.js';
import { loadKubectlConfig } from '../kube/kubectl-config.js';
import { awsClientConfig, awsErrorText } from '../aws/sdk.js';
import { cannotRead } from '../file-errors.js';
import { readClusterIssuer } from './issuer.js';
import { printChecklist } from './doctor.js';
import { verifySetup } from '../setup/verify.js';
import {
  buildIssuerDocuments,
  checkIssuer,
  documentsFromCluster,
  formatFinding,
  IssuerError,
  loadPublicKeys,
  publishDocuments,
  parsePublishTarget,
  thumbprintOf,
  validateIssuerUrl,
} from '../issuer/index.js';
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_AUDIENCE,
  PHASES,
  SetupPlanError,
  formatStep,
  planSetup,
  type Phase,
  type SetupSpec,
  type Step,
} from '../setup/plan.js';
import { planDelete } from '../setup/plan-delete.js';
import { RENDER_FORMATS, RenderError, render, type RenderFormat } from '../setup/render.js';
import { SetupError, execute, makeKubeClient, observe, type SetupClients } from '../setup/run.js';

const USAGE = `usage: openirsa setup [delete] --issuer URL -n NS --service-account NAME --role-name NAME [flags]
       openirsa setup verify -n NS --service-account NAME   (see 'openirsa setup verify --help')

Wires a cluster to AWS IAM for one ServiceAccount, phase by phase, touching only what differs:
  issuer          (with --publish-to) documents from the cluster's keys (or --public-key), published and
                  checked; the issuer must pass 'issuer check' before anything is created in IAM
  provider        the IAM OIDC provider for the issuer, or the client id / thumbprints it lacks
  role            the role with a trust statement for the ServiceAccount (linted; other statements kept),
                  and the policies asked for
  serviceaccount  the role-arn annotation (the ServiceAccount is created with --create-service-account)
A second run changes nothing and says so. 'setup delete' removes what setup created (tagged
${'openirsa.io/created-by=openirsa-setup'}) and, from what existed before, only its trust statement and annotation.

IAM: @aws-sdk/client-iam with the standard credential chain; AWS_ENDPOINT_URL_IAM for another endpoint
(openirsa's local IAM, any IAM-compatible one), AWS_CA_BUNDLE for its CA. Kubernetes: the kubeconfig as
kubectl finds it.

flags:
  --issuer URL               the issuer, exactly as the tokens' iss (https)
  -n, --namespace NS         the ServiceAccount's namespace
  --service-account NAME     the ServiceAccount
  --namespace-wide           trust every ServiceAccount of NS (StringLike sub ...:NS:*) instead of one
  --role-name NAME           the IAM role
  --role-path PATH           its path (default /)
  --policy-arn ARN           attach a managed policy (repeatable)
  --policy FILE              put an inline policy named after the file (repeatable)
  --audience AUD             client id and aud condition (default ${DEFAULT_AUDIENCE})
  --thumbprint HEX|auto      a thumbprint the provider must list; auto: the issuer's ('issuer thumbprint')
  --account-id ID            the AWS account (default: STS GetCallerIdentity)
  --partition P              ARN partition (default aws)
  --create-service-account   create the ServiceAccount when it does not exist
  --annotation-prefix P      the webhook's annotation prefix (default ${DEFAULT_ANNOTATION_PREFIX})
  --phases LIST              comma-separated subset of ${PHASES.join(',')} (default: all; issuer only with --publish-to)
  --publish-to DEST          issuer phase: publish the documents to a folder or s3://bucket/prefix
  --public-key FILE          issuer phase: keys instead of the cluster's (repeatable)
  --issuer-ca-file PEM       a CA to trust for the issuer's HTTPS (issuer check, thumbprint)
  --kubeconfig FILE          default $KUBECONFIG, ~/.kube/config, in-cluster
  --context NAME             kubeconfig context
  --dry-run                  print what would change, touch nothing
  -o, --output FORMAT        with --dry-run: ${RENDER_FORMATS.join('|')} (default: one line per step)
  --offline                  with --dry-run: read nothing, plan as if nothing existed (needs --account-id)
  --json                     print the steps as JSON

exit status: 0 done (or nothing to do), 1 a step failed (run again to finish), 2 bad input`;

const FLAGS = {
  issuer: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'service-account': { type: 'string' },
  'namespace-wide': { type: 'boolean' },
  'role-name': { type: 'string' },
  'role-path': { type: 'string' },
  'policy-arn': { type: 'string', multiple: true },
  policy: { type: 'string', multiple: true },
  audience: { type: 'string' },
  thumbprint: { type: 'string', multiple: true },
  'account-id': { type: 'string' },
  partition: { type: 'string' },
  'create-service-account': { type: 'boolean' },
  'annotation-prefix': { type: 'string' },
  phases: { type: 'string' },
  'publish-to': { type: 'string' },
  'public-key': { type: 'string', multiple: true },
  'issuer-ca-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'dry-run': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  offline: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const str = (v: FlagValues, k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
const list = (v: FlagValues, k: string): string[] => (Array.isArray(v[k]) ? v[k] : []);
function need(v: FlagValues, k: string): string {
  const s = str(v, k);
  if (!s) throw new CliError(`setup: --${k} is required`);
  return s;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`setup: ${cannotRead(what, file, err)}`);
  }
}

/** The kubeconfig as kubectl finds it (--kubeconfig, --context); `what` begins the error message. */
function kubeConfigOf(v: FlagValues, what: string): KubeConfig {
  try {
    return loadKubectlConfig({ kubeconfig: str(v, 'kubeconfig'), context: str(v, 'context') }).kubeConfig;
  } catch (err) {
    throw inContext(`${what}: `, err, EXIT_BAD_INPUT);
  }
}

async function awsConfig(): Promise<Record<string, unknown>> {
  try {
    return await awsClientConfig();
  } catch (err) {
    throw inContext('setup: ', err, EXIT_BAD_INPUT);
  }
}

const NAME = /^[\w+=,.@-]{1,64}$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function parsePhases(v: FlagValues): Phase[] {
  const raw = str(v, 'phases');
  if (raw === undefined) return PHASES.filter((p) => p !== 'issuer' || str(v, 'publish-to') !== undefined);
  const phases = raw.split(',').map((p) => p.trim());
  for (const p of phases) {
    if (!(PHASES as readonly string[]).includes(p))
      throw new CliError(`setup: unknown phase "${p}" (phases: ${PHASES.join(', ')})`);
  }
  if (phases.includes('issuer') && !str(v, 'publish-to'))
    throw new CliError('setup: the issuer phase needs --publish-to');
  return PHASES.filter((p) => phases.includes(p));
}

async function buildSpec(v: FlagValues, accountId: string, thumbprints: string[]): Promise<SetupSpec> {
  const issuer = need(v, 'issuer');
  try {
    validateIssuerUrl(issuer);
  } catch (err) {
    throw inContext('setup: ', err, EXIT_BAD_INPUT);
  }
  const namespace = need(v, 'namespace');
  const serviceAccount = need(v, 'service-account');
  if (!K8S_NAME.test(namespace) || !K8S_NAME.test(serviceAccount)) {
    throw new CliError(
      'setup: --namespace and --service-account must be Kubernetes names (lower-case letters, digits, - and .)',
    );
  }
  const roleName = need(v, 'role-name');
  if (!NAME.test(roleName))
    throw new CliError(
      `setup: --role-name "${roleName}" is not an IAM role name (1-64 of letters, digits and +=,.@_-)`,
    );
  const rolePath = str(v, 'role-path') ?? '/';
  if (!/^\/([\x21-\x7e]*\/)?$/.test(rolePath))
    throw new CliError(`setup: --role-path "${rolePath}" must start and end with /`);
  if (!/^\d{12}$/.test(accountId))
    throw new CliError(`setup: the account id "${accountId}" is not 12 digits`);
  const inlinePolicies = [];
  for (const file of list(v, 'policy')) {
    const document = await readText(file, 'policy');
    try {
      JSON.parse(document);
    } catch {
      throw new CliError(`setup: --policy ${file} is not JSON`);
    }
    const name = basename(file, extname(file));
    if (!/^[\w+=,.@-]{1,128}$/.test(name))
      throw new CliError(`setup: --policy ${file}: "${name}" is not a policy name`);
    inlinePolicies.push({ name, document });
  }
  for (const arn of list(v, 'policy-arn')) {
    if (!/^arn:[a-z-]+:iam::(aws|\d{12}):policy\/.+$/.test(arn))
      throw new CliError(`setup: --policy-arn "${arn}" is not a managed policy ARN`);
  }
  return {
    issuer,
    accountId,
    partition: str(v, 'partition') ?? 'aws',
    audience: str(v, 'audience') ?? DEFAULT_AUDIENCE,
    thumbprints,
    namespace,
    serviceAccount,
    namespaceWide: v['namespace-wide'] === true,
    roleName,
    rolePath,
    policyArns: list(v, 'policy-arn'),
    inlinePolicies,
    createServiceAccount: v['create-service-account'] === true,
    annotationPrefix: str(v, 'annotation-prefix') ?? DEFAULT_ANNOTATION_PREFIX,
  };
}

async function resolveAccount(v: FlagValues, offline: boolean): Promise<string> {
  const given = str(v, 'account-id');
  if (given) return given;
  if (offline) throw new CliError('setup: --offline needs --account-id');
  try {
    const sts = new STSClient(await awsConfig());
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return id.Account!;
  } catch (err) {
    throw new CliError(
      `setup: cannot find the AWS account (pass --account-id): STS GetCallerIdentity: ${awsErrorText(err)}`,
      1,
    );
  }
}

async function resolveThumbprints(v: FlagValues, ca: string | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const t of list(v, 'thumbprint')) {
    if (t === 'auto') {
      try {
        out.push((await thumbprintOf(need(v, 'issuer'), { ca })).thumbprint);
      } catch (err) {
        throw inContext('setup: --thumbprint auto: ', err, EXIT_FAILED);
      }
    } else if (/^[0-9a-fA-F]{40}$/.test(t)) out.push(t.toLowerCase());
    else throw new CliError(`setup: --thumbprint "${t}" is not 40 hex digits (or auto)`);
  }
  return out;
}

interface Printer {
  line(s: string): void;
}

/** The issuer phase: documents (the cluster's keys, or --public-key), published where asked. */
async function issuerPhase(v: FlagValues, spec: SetupSpec, out: Printer, dryRun: boolean): Promise<void> {
  const dest = need(v, 'publish-to');
  const target = parsePublishTarget(dest);
  const keys = list(v, 'public-key');
  let docs;
  if (keys.length > 0) {
    const publicKeys = [];
    for (const f of keys) publicKeys.push(...(await loadPublicKeys(f)));
    docs = await buildIssuerDocuments({ issuer: spec.issuer, publicKeys });
  } else {
    const cluster = await readClusterIssuer(str(v, 'kubeconfig'), str(v, 'context'), 'setup: issuer');
    docs = await documentsFromCluster(cluster, { issuer: spec.issuer });
  }
  for (const w of docs.warnings) console.error(`openirsa: warning: ${w}`);
  if (dryRun) {
    out.line(
      `${'issuer'.padEnd(14)} ${spec.issuer}: would publish ${docs.files.length} documents to ${dest}`,
    );
    return;
  }
  const published = await publishDocuments(docs.files, target);
  const changed = published.filter((p) => !p.unchanged).length;
  out.line(
    changed === 0
      ? `${'issuer'.padEnd(14)} ${spec.issuer}: unchanged (${published.length} documents at ${dest}, verified)`
      : `${'issuer'.padEnd(14)} ${spec.issuer}: published ${changed === published.length ? changed : `${changed} of ${published.length}`} documents to ${dest} (verified)`,
  );
}

async function issuerCheck(spec: SetupSpec, ca: string | undefined, out: Printer): Promise<void> {
  const report = await checkIssuer(spec.issuer, { ca });
  if (!report.ok) {
    const errors = report.findings.filter((f) => f.severity === 'error').map(formatFinding);
    throw new CliError(
      `setup: the issuer ${spec.issuer} fails 'issuer check', so nothing was created in IAM:\n${errors.join('\n')}`,
      1,
    );
  }
  out.line(`${'issuer'.padEnd(14)} ${spec.issuer}: issuer check passed`);
}

const VERIFY_USAGE = `usage: openirsa setup verify -n NS --service-account NAME [--role-arn ARN] [--audience AUD]
                             [--kubeconfig FILE] [--context NAME] [--annotation-prefix P] [--json]

Proves the chain for a ServiceAccount: a TokenRequest token (audience from the ServiceAccount's annotation, default
sts.amazonaws.com), the IAM OIDC provider lists that audience, the role's trust policy in IAM admits the
ServiceAccount, and a real AssumeRoleWithWebIdentity at STS gives credentials whose GetCallerIdentity is the role
(the standard AWS environment: AWS_ENDPOINT_URL_IAM / _STS, AWS_CA_BUNDLE). Exit 1 when a link is broken.`;

async function verify(argv: string[]): Promise<number> {
  const { values: v } = parseFlags('setup verify', argv, {
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    'role-arn': { type: 'string' },
    audience: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'annotation-prefix': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    console.log(VERIFY_USAGE);
    return 0;
  }
  const checks = await verifySetup({
    core: makeKubeClient(kubeConfigOf(v, 'setup verify')),
    namespace: need(v, 'namespace'),
    serviceAccount: need(v, 'service-account'),
    roleArn: str(v, 'role-arn'),
    audience: str(v, 'audience'),
    annotationPrefix: str(v, 'annotation-prefix') ?? DEFAULT_ANNOTATION_PREFIX,
  });
  return printChecklist(checks, v.json === true);
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'verify') return verify(argv.slice(1));
  const deleting = argv[0] === 'delete';
  const { values: v, positionals } = parseFlags('setup', deleting ? argv.slice(1) : argv, FLAGS, true);
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0)
    throw new CliError(`setup: unexpected argument "${positionals[0]}"; run 'openirsa setup --help'`);
  const dryRun = v['dry-run'] === true;
  const offline = v.offline === true;
  const format = str(v, 'output');
  if (format !== undefined && !(RENDER_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(`setup: -o must be one of ${RENDER_FORMATS.join(', ')}`);
  }
  if (format !== undefined && !dryRun) throw new CliError('setup: -o goes with --dry-run');
  if (offline && !dryRun) throw new CliError('setup: --offline goes with --dry-run');
  const phases = parsePhases(v);
  if (deleting && phases.includes('issuer'))
    throw new CliError('setup delete: the issuer phase is not undone (unpublish the documents yourself)');
  const ca = str(v, 'issuer-ca-file') ? await readText(str(v, 'issuer-ca-file')!, 'CA file') : undefined;
  const needsIam = phases.includes('provider') || phases.includes('role');
  const accountId = await resolveAccount(v, offline || !needsIam);
  const spec = await buildSpec(v, accountId, await resolveThumbprints(v, ca));
  const json = v.json === true;
  const lines: string[] = [];
  const out: Printer = { line: (s) => (json || format ? lines.push(s) : console.log(s)) };

  const clients: SetupClients = {};
  if (!offline) {
    if (needsIam) clients.iam = new IAMClient(await awsConfig());
    if (phases.includes('serviceaccount')) {
      clients.core = makeKubeClient(kubeConfigOf(v, 'setup'));
    }
  }
  try {
    if (phases.includes('issuer')) await issuerPhase(v, spec, out, dryRun);
    const observed = offline ? {} : await observe(spec, clients, phases, deleting ? 'delete' : 'setup');
    const steps = (deleting ? planDelete : planSetup)(spec, observed, phases);
    if (dryRun) {
      if (format) process.stdout.write(render(format as RenderFormat, { spec, observed, steps, deleting }));
      else if (json) console.log(JSON.stringify({ dryRun: true, steps }, null, 2));
      else steps.forEach((s) => out.line(formatStep(s, true)));
      return 0;
    }
    // Nothing goes into IAM for an issuer STS could not use.
    if (
      !deleting &&
      steps.some((s) => s.actions.length > 0 && (s.phase === 'provider' || s.phase === 'role'))
    ) {
      await issuerCheck(spec, ca, out);
    }
    const done: Step[] = [];
    try {
      await execute(steps, clients, (s) => {
        done.push(s);
        out.line(formatStep(s));
      });
    } finally {
      if (json)
        console.log(
          JSON.stringify({ dryRun: false, steps: done, complete: done.length === steps.length }, null, 2),
        );
    }
    if (!json && steps.every((s) => s.status === 'unchanged'))
      out.line('nothing to do: everything is as asked');
    return 0;
  } catch (err) {
    if (err instanceof SetupPlanError || err instanceof RenderError) throw inContext('setup: ', err);
    if (err instanceof IssuerError) throw inContext('setup: issuer: ', err);
    if (err instanceof SetupError)
      throw new CliError(
        `setup: ${err.message} (what ran is kept: run setup again to finish)`,
        exitStatusOf(err),
        { cause: err },
      );
    throw err;
  }
}
