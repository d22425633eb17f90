/** OIDC token verification for the STS: pure checks (verify.ts) and provider keys (keys.ts). */
export * from './verify.js';
export * from './keys.js';
