/**
 * The webhook's V8 options are one fact in two deploy files: the Helm chart and the kustomize base give the webhook
 * container the same NODE_OPTIONS, and bench:memory/bench:compare run openirsa with the kustomize one
 * (bench/side-by-side.ts deployedWebhookNodeOptions), so the figures in docs/performance.md are the deployed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployedWebhookNodeOptions } from '../../../bench/side-by-side.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

test('the Helm chart and the kustomize base give the webhook the same NODE_OPTIONS, with a capped young generation', () => {
  const kustomize = deployedWebhookNodeOptions(join(ROOT, 'dist/src/cli/bin.js'));
  assert.ok(kustomize, 'deploy/kustomize/base/deployment.yaml sets NODE_OPTIONS for the webhook');
  assert.match(kustomize, /--max-semi-space-size=\d+/);
  const chart = readFileSync(join(ROOT, 'deploy/helm/openirsa-webhook/templates/deployment.yaml'), 'utf8');
  const values = [...chart.matchAll(/- name: NODE_OPTIONS\n\s+value: (.*)\n/g)].map((m) => m[1]);
  assert.deepEqual(values, [kustomize]);
});

test('a build without deploy files has no deployed NODE_OPTIONS', () => {
  assert.equal(deployedWebhookNodeOptions('/nonexistent/dist/src/cli/bin.js'), undefined);
});
