/** The policy engine: ARNs, policy documents, evaluation, explanations and lint. Pure functions, no I/O. */
export * from './types.js';
export * from './errors.js';
export * from './arn.js';
export * from './policy.js';
export * from './conditions.js';
export * from './variables.js';
export * from './evaluate.js';
export * from './effective.js';
export * from './explain.js';
export * from './lint/index.js';
