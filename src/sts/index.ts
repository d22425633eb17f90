/** openirsa's AWS-STS-compatible endpoint. */
export * from './protocol.js';
export * from './config.js';
export * from './credentials.js';
export * from './common.js';
export * from './web-identity.js';
export * from './assume-role.js';
export * from './caller-identity.js';
export * from './sigv4.js';
export * from './server.js';
export * from './policy.js';
export * from './lint-input.js';
