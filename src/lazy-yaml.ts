/**
 * The yaml module, loaded on first use: the webhook's path (JSON reviews, in-cluster or `--kube-api` configuration)
 * never parses YAML, and loading it adds ~0.7 MiB of heap and ~1.7 MiB of RSS (docs/performance.md). It is the
 * same instance as `import 'yaml'` (the package's `node` export is CommonJS).
 */
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

let yaml: typeof YamlModule | undefined;

export function loadYaml(): typeof YamlModule {
  return (yaml ??= createRequire(import.meta.url)('yaml') as typeof YamlModule);
}
