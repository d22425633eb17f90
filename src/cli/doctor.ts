import { parseFlags } from './args.js';
import { CliError, messageOf } from './errors.js';
import { loadKubeConfig } from '../kube/client.js';
import { firstBroken, formatChecklist } from '../doctor/checks.js';
import { readCa, runDoctor } from '../doctor/run.js';

const USAGE = `usage: openirsa doctor --namespace NS (--service-account NAME | --pod NAME) [flags]

Checks an IRSA setup link by link and prints a checklist with the first broken link marked '>>':
webhook registered and answering, ServiceAccount annotation, pod mutated (the given pod, or a new pod
in a server-side dry run), a TokenRequest token's audience and expiry, the API server's issuer vs the
tokens', the issuer's discovery + JWKS as STS fetches them, the token's kid published, and with
--sts-config the trust-policy decision on that token.

flags:
  --kubeconfig FILE        kubeconfig (default $KUBECONFIG, else in-cluster)
  -n, --namespace NS       namespace (required)
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
  const s = (k: string): string | undefined =>
    typeof values[k] === 'string' ? (values[k] as string) : undefined;
  const namespace = s('namespace');
  if (!namespace) throw new CliError('--namespace is required');
  if (values['aws-exchange'] && !values.aws) throw new CliError('--aws-exchange goes with --aws');
  const format = s('format') ?? 'text';
  if (format !== 'text' && format !== 'json') throw new CliError('--format must be text or json');
  const kubeconfig = s('kubeconfig') ?? process.env.KUBECONFIG;
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig({ kubeconfig });
  } catch (err) {
    throw new CliError(messageOf(err));
  }
  let issuerCa: string | undefined;
  try {
    issuerCa = await readCa(s('issuer-ca-file'));
  } catch (err) {
    throw new CliError(
      `cannot read --issuer-ca-file: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
    );
  }
  const checks = await runDoctor({
    kubeConfig,
    namespace,
    serviceAccount: s('service-account'),
    pod: s('pod'),
    issuerCa,
    stsConfigFile: s('sts-config'),
    annotationPrefix: s('annotation-prefix'),
    aws: values.aws === true ? { exchange: values['aws-exchange'] === true } : undefined,
  });
  const broken = firstBroken(checks);
  if (format === 'json')
    console.log(JSON.stringify({ ok: !broken, firstBroken: broken?.id ?? null, checks }, null, 2));
  else console.log(formatChecklist(checks));
  return broken ? 1 : 0;
}
