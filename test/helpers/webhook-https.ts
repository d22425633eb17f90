/** Shared by the webhook's server tests, integration tests and benchmark: certs, SA files, review bodies, HTTPS calls. */
import { request as httpsRequest, type Agent } from 'node:https';
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createCa, issueCertificate, type CertificateAuthority } from '../../src/pki/index.js';

export const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';

export interface WebhookFiles {
  dir: string;
  ca: CertificateAuthority;
  certFile: string;
  keyFile: string;
  saFile: string;
}

export async function webhookFiles(): Promise<WebhookFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-webhook-'));
  const ca = await createCa('webhook test CA');
  const leaf = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, leaf.cert);
  writeFileSync(keyFile, leaf.key, { mode: 0o600 });
  const saFile = join(dir, 'serviceaccounts.yaml');
  writeFileSync(
    saFile,
    [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- apiVersion: v1',
      '  kind: ServiceAccount',
      '  metadata:',
      '    name: great-serviceaccount',
      '    namespace: great-namespace',
      '    annotations:',
      `      eks.amazonaws.com/role-arn: ${ROLE}`,
      '- apiVersion: v1',
      '  kind: ServiceAccount',
      '  metadata: {name: default, namespace: great-namespace}',
      '',
    ].join('\n'),
  );
  return { dir, ca, certFile, keyFile, saFile };
}

/** A realistic 3-container pod (app, sidecar, init) as kube-apiserver sends it after defaulting. */
export function samplePod(serviceAccountName = 'great-serviceaccount'): Record<string, unknown> {
  const container = (name: string, image: string) => ({
    name,
    image,
    args: ['--listen=:8080', '--log-level=info'],
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    env: [
      { name: 'APP_ENV', value: 'production' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    ],
    resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
    volumeMounts: [
      {
        name: 'kube-api-access-abcde',
        readOnly: true,
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      },
    ],
    readinessProbe: {
      httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true },
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'writer-7d9c5b-',
      namespace: 'great-namespace',
      labels: { app: 'writer', 'pod-template-hash': '7d9c5b' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T20:00:00Z' },
    },
    spec: {
      serviceAccountName,
      serviceAccount: serviceAccountName,
      initContainers: [container('migrate', 'registry.example.com/migrate:1.4.2')],
      containers: [
        container('app', 'registry.example.com/writer:2.1.0'),
        container('log-shipper', 'registry.example.com/fluent-bit:3.0'),
      ],
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            ],
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: { fsGroup: 65534 },
      schedulerName: 'default-scheduler',
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
  };
}

export function admissionReview(
  apiVersion: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1',
  uid: string,
  pod: Record<string, unknown>,
): string {
  return JSON.stringify({
    kind: 'AdmissionReview',
    apiVersion,
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'great-namespace',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** SHA-256 fingerprint of the server certificate (HTTPS only). */
  fingerprint?: string;
}

export function call(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: string | Buffer;
    ca?: string;
    /** An HTTPS agent for https: URLs, an HTTP one for http: URLs. */
    agent?: Agent | HttpAgent | false;
    chunked?: boolean;
  } = {},
): Promise<Reply> {
  const u = new URL(url);
  const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    if (options.body !== undefined && !options.chunked)
      headers['Content-Length'] = Buffer.byteLength(options.body);
    const req = fn(
      u,
      {
        method: options.method ?? 'GET',
        headers,
        ca: options.ca,
        agent: options.agent === undefined ? false : options.agent,
      } as Parameters<typeof httpsRequest>[1],
      (res) => {
        const chunks: Buffer[] = [];
        // Read the certificate now: a keep-alive socket is detached from the response once it ends.
        const sock = res.socket as TLSSocket | null;
        const fingerprint =
          sock && typeof sock.getPeerCertificate === 'function'
            ? sock.getPeerCertificate().fingerprint256
            : undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const reply: Reply = {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          };
          if (fingerprint) reply.fingerprint = fingerprint;
          resolve(reply);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export function decodePatch(responseBody: string): Array<{ op: string; path: string; value?: unknown }> {
  const review = JSON.parse(responseBody) as { response: { patch?: string } };
  return JSON.parse(Buffer.from(review.response.patch ?? '', 'base64').toString('utf8')) as Array<{
    op: string;
    path: string;
    value?: unknown;
  }>;
}
