import { CliError } from './errors.js';

/** A sub-command: gets its own argv (after the command name) and returns the exit status. */
export type Command = (argv: string[]) => Promise<number>;

// One module per command; loaded lazily so `openirsa webhook` does not pay for the STS code.
const commands: Record<string, { summary: string; load: () => Promise<{ run: Command }> }> = {
  webhook: { summary: 'the pod identity mutating admission webhook', load: () => import('./webhook.js') },
  issuer: {
    summary: 'OIDC issuer: keygen, documents, publish, serve, check, thumbprint, mint',
    load: () => import('./issuer.js'),
  },
  sts: { summary: 'AWS-STS-compatible endpoint (sts serve)', load: () => import('./sts.js') },
  explain: {
    summary: 'explain a trust-policy or permission decision offline',
    load: () => import('./explain.js'),
  },
  lint: { summary: 'static checks on IRSA role trust policies', load: () => import('./lint.js') },
  doctor: { summary: 'check an IRSA setup link by link on a cluster', load: () => import('./doctor.js') },
  setup: {
    summary: 'wire a cluster to AWS IAM: issuer, OIDC provider, role, ServiceAccount',
    load: () => import('./setup.js'),
  },
  agent: {
    summary: 'EKS Pod Identity agent: container credentials for pods on any cluster',
    load: () => import('./agent.js'),
  },
  dev: { summary: 'run issuer, STS and webhook on one machine', load: () => import('./dev.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: openirsa <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nRun 'openirsa <command> --help' for a command's flags.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    console.log('openirsa v0.1.0');
    return 0;
  }
  const command = commands[name];
  if (!command) throw new CliError(`unknown command "${name}"; run 'openirsa --help' for the list`);
  const mod = await command.load();
  return mod.run(rest);
}
