/**
 * Integration harness for `openirsa agent`: `sts serve` (sts-harness) with the roles of both credential models, and
 * the built agent as a child process on 127.0.0.1, authenticating pod tokens against the test issuer's JWKS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { ACCOUNT, BIN, startHarness, type Harness } from './sts-harness.js';
import { signToken } from './sts-fixtures.js';
import { webIdentityTrust } from './trust-policy.js';

export const AGENT_SA = 'system:serviceaccount:openirsa:agent';
export const AGENT_ROLE = `arn:aws:iam::${ACCOUNT}:role/openirsa-agent`;
export const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
export const WEB_ROLE = `arn:aws:iam::${ACCOUNT}:role/app-web-identity`;
export const POD_AUDIENCE = 'pods.eks.amazonaws.com';

const doc = (d: unknown) => encodeURIComponent(JSON.stringify(d));

/** The STS config: the agent's own IRSA role, a target role that trusts it with tags, a per-SA web identity role. */
export function agentRoles(issuerUrl: string): Record<string, unknown>[] {
  return [
    {
      Role: {
        RoleName: 'openirsa-agent',
        Path: '/',
        AssumeRolePolicyDocument: doc(webIdentityTrust(ACCOUNT, issuerUrl, AGENT_SA)),
      },
    },
    {
      // EKS Pod Identity's model: trust the agent's role once; ABAC on the session tags.
      Role: {
        RoleName: 'app',
        Path: '/',
        AssumeRolePolicyDocument: doc({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: AGENT_ROLE },
              Action: ['sts:AssumeRole', 'sts:TagSession'],
              Condition: { StringEquals: { 'aws:RequestTag/kubernetes-namespace': 'apps' } },
            },
          ],
        }),
      },
    },
    {
      Role: {
        RoleName: 'app-web-identity',
        Path: '/',
        AssumeRolePolicyDocument: doc(
          webIdentityTrust(ACCOUNT, issuerUrl, 'system:serviceaccount:apps:web', POD_AUDIENCE),
        ),
      },
    },
  ];
}

export interface PodToken {
  token: string;
  file: string;
  podUid: string;
}

export interface AgentProcess {
  url: string;
  port: number;
  probe: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<number | null>;
}

export async function startStsForAgent(): Promise<Harness> {
  return startHarness({
    configure: (config) => {
      const providers = config.oidcProviders as { ClientIDList: string[] }[];
      providers[0]!.ClientIDList.push(POD_AUDIENCE);
      const url = (config.oidcProviders as { Url: string }[])[0]!.Url;
      (config.roles as unknown[]).push(...agentRoles(url));
    },
  });
}

/** A pod-bound token as kube-apiserver mints it (kubernetes.io claims), written to a file in the harness dir. */
export function podToken(
  h: Harness,
  o: {
    namespace: string;
    serviceAccount: string;
    pod: string;
    podUid?: string;
    over?: Record<string, unknown>;
  },
): PodToken {
  const now = Math.floor(Date.now() / 1000);
  const podUid = o.podUid ?? randomUUID();
  const token = signToken(h.key, {
    aud: [POD_AUDIENCE],
    exp: now + 3600,
    iat: now,
    nbf: now,
    iss: h.issuerUrl,
    sub: `system:serviceaccount:${o.namespace}:${o.serviceAccount}`,
    'kubernetes.io': {
      namespace: o.namespace,
      pod: { name: o.pod, uid: podUid },
      serviceaccount: { name: o.serviceAccount, uid: randomUUID() },
    },
    ...o.over,
  });
  const file = join(h.dir, `pod-token-${podUid}`);
  writeFileSync(file, token);
  return { token, file, podUid };
}

export function writeAssociations(
  file: string,
  list: { name: string; namespace: string; serviceAccount: string; roleArn: string; [k: string]: unknown }[],
): void {
  writeFileSync(
    file,
    list
      .map(({ name, ...spec }) =>
        stringify({
          apiVersion: 'openirsa.io/v1alpha1',
          kind: 'PodIdentityAssociation',
          metadata: { name },
          spec,
        }),
      )
      .join('---\n'),
  );
}

/** The built agent, its own identity by IRSA (a token file for the agent's ServiceAccount). */
export async function startAgentProcess(
  h: Harness,
  o: {
    model: 'agent-identity' | 'web-identity';
    associationsFile: string;
    extraArgs?: string[];
    logLevel?: string;
  },
): Promise<AgentProcess> {
  const now = Math.floor(Date.now() / 1000);
  const agentToken = join(h.dir, 'agent-token');
  writeFileSync(
    agentToken,
    signToken(h.key, {
      aud: ['sts.amazonaws.com'],
      exp: now + 3600,
      iat: now,
      nbf: now,
      iss: h.issuerUrl,
      sub: AGENT_SA,
    }),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  const child = spawn(
    process.execPath,
    [
      BIN,
      'agent',
      '--cluster-name',
      'lab',
      '--cluster-arn',
      `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/lab`,
      '--model',
      o.model,
      '--bind-host',
      '127.0.0.1',
      '--port',
      '0',
      '--probe-address',
      '127.0.0.1:0',
      '--auth',
      'jwks',
      '--issuer',
      h.issuerUrl,
      '--ca-bundle',
      h.caFile,
      '--no-pod-check',
      '--associations-file',
      o.associationsFile,
      '--sts-endpoint',
      h.stsUrl,
      ...(o.extraArgs ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'us-east-1',
        AWS_ROLE_ARN: AGENT_ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE: agentToken,
        AWS_ENDPOINT_URL_STS: h.stsUrl,
        NODE_EXTRA_CA_CERTS: h.caFile,
        OPENIRSA_LOG_LEVEL: o.logLevel ?? 'info',
      },
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const { port, probe } = await new Promise<{ port: number; probe: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent did not start: ${stderr}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      const p = /probes on http:\/\/(\S+)/.exec(out);
      const wantProbe = !(o.extraArgs ?? []).includes('none');
      if (m && (p || !wantProbe)) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), probe: p?.[1] ?? '' });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/v1/credentials`,
    port,
    probe,
    child,
    stderr: () => stderr,
    stop: async () => {
      const exited = new Promise<number | null>((r) =>
        child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code)),
      );
      child.kill('SIGTERM');
      return exited;
    },
  };
}
