/**
 * The package's `openirsa/webhook` entry point: what it exports. The wiring that starts the webhook is start.ts.
 */
export { FLAGS, parseArgs, resolveFlags, helpText, type WebhookFlags } from './flags.js';
export { mutatePod } from './mutate.js';
export { reviewAdmission } from './admission.js';
export * from './constants.js';
export type * from './types.js';
export { IdentityCache } from './cache.js';
export { createMetrics } from './metrics.js';
export {
  IN_CLUSTER_UNSUPPORTED,
  mutationConfig,
  startWebhook,
  WebhookStartError,
  type RunningWebhook,
  type StartOptions,
} from './start.js';
