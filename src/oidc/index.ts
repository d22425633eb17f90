/** OIDC token verification for the STS: pure checks (verify.ts), provider keys (keys.ts), their errors (errors.ts). */
export * from './errors.js';
export * from './verify.js';
export * from './keys.js';
