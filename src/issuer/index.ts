/** openirsa/issuer: make a cluster an OIDC identity provider (keys, documents, publish, serve, check, mint). */
export * from './errors.js';
export * from './key-id.js';
export * from './keys.js';
export * from './url.js';
export * from './json.js';
export * from './jwks.js';
export * from './discovery.js';
export * from './documents.js';
export * from './mint.js';
export * from './serve.js';
export * from './publish.js';
export * from './fetch.js';
export * from './check.js';
export * from './thumbprint.js';
export * from './from-cluster.js';
