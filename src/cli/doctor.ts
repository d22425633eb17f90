import { terminalSafe, terminalSafeJson } from '../escape.js';
import { cannotRead } from '../file-errors.js';
import { parseFlags } from './args.js';
import { CliError, EXIT_BAD_INPUT, inContext } from './errors.js';
import { loadKubectlConfig } from '../kube/kubectl-config.js';
import { firstBroken, formatChecklist, type Check } from '../doctor/checks.js';
import { readCa, runDoctor } from '../doctor/run.js';

const USAGE = `usage: openirsa doctor [-n NS] (--service-account NAME | --pod NAME) [flags]

Checks an IRSA setup link by link and prints a checklist with the first broken link marked '>>':
the API server answers, webhook registered and answering, ServiceAccount annotation, pod mutated (the given pod, or a new pod
in a server-side dry run), a TokenRequest token's audience and expiry, the API server's issuer vs the
tokens', the issuer's discovery + JWKS as STS fetches them, the token's kid published, and with
--sts-config the trust-policy decision on that token.

flags:
  --kubeconfig FILE        kubeconfig file; else as kubectl: $KUBECONFIG (files merged), ~/.kube/config,
                           in-cluster
  --context NAME           the kubeconfig context to use (default: its current-context)
  -n, --namespace NS       namespace (default: the context's, else "default")
  --service-account NAME   the ServiceAccount to check (default: the pod's, else "default")
  --pod NAME               a running pod to check (was it mutated?)
  --issuer-ca-file PEM     extra CA to trust for the issuer's HTTPS (a private lab CA)
  --sts-config FILE        an openirsa sts config: evaluate the role's trust policy on the token
  --annotation-prefix P    the webhook's --annotation-prefix (default eks.amazonaws.com)
  --aws                    also check IAM as AWS sees it, with the standard AWS credentials
                           (AWS_ENDPOINT_URL_IAM/_STS, AWS_CA_BUNDLE honoured): the provider lists the
                           token's audience (GetOpenIDConnectProvider), the role's trust policy admits the
                           ServiceAccount (GetRole, evaluated by openirsa's engine)
  --aws-exchange           with --aws: trade a TokenRequest token at STS (AssumeRoleWithWebIdentity) and
                           check GetCallerIdentity names the role
  --format text|json       output format (default text)

exit status: 0 no broken link, 1 a link is broken, 2 bad input`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('doctor', argv, {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    pod: { type: 'string' },
    'issuer-ca-file': { type: 'string' },
    'sts-config': { type: 'string' },
    'annotation-prefix': { type: 'string' },
    aws: { type: 'boolean' },
    'aws-exchange': { type: 'boolean' },
    format: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  if (values['aws-exchange'] && !values.aws) throw new CliError('--aws-exchange goes with --aws');
  const format = s('format') ?? 'text';
  if (format !== 'text' && format !== 'json') throw new CliError('--format must be text or json');
  if (values.namespace === '') throw new CliError('--namespace needs a value');
  let loaded;
  try {
    loaded = loadKubectlConfig({ kubeconfig: s('kubeconfig'), context: s('context') });
  } catch (err) {
    throw inContext('', err, EXIT_BAD_INPUT);
  }
  const namespace = s('namespace') ?? loaded.namespace;
  let issuerCa: string | undefined;
  try {
    issuerCa = await readCa(s('issuer-ca-file'));
  } catch (err) {
    throw new CliError(cannotRead('--issuer-ca-file', s('issuer-ca-file') ?? '', err));
  }
  const checks = await runDoctor({
    kubeConfig: loaded.kubeConfig,
    via: `context ${loaded.context} from ${loaded.source}`,
    namespace,
    serviceAccount: s('service-account'),
    pod: s('pod'),
    issuerCa,
    stsConfigFile: s('sts-config'),
    annotationPrefix: s('annotation-prefix'),
    aws: values.aws === true ? { exchange: values['aws-exchange'] === true } : undefined,
  });
  return printChecklist(checks, format === 'json');
}

/**
 * Prints a checklist (doctor, setup verify) as text or JSON, what the cluster and AWS said made safe for a
 * terminal; returns the exit status: 1 when a link is broken.
 */
export function printChecklist(checks: Check[], json: boolean): number {
  const broken = firstBroken(checks);
  if (json)
    console.log(
      terminalSafeJson(JSON.stringify({ ok: !broken, firstBroken: broken?.id ?? null, checks }, null, 2)),
    );
  else console.log(formatChecklist(checks).split('\n').map(terminalSafe).join('\n'));
  return broken ? 1 : 0;
}
