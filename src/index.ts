/**
 * openirsa as a library. Each part is also importable on its own: `openirsa/issuer`, `openirsa/webhook`,
 * `openirsa/iam`, `openirsa/sts`, `openirsa/oidc`.
 */
export * as issuer from './issuer/index.js';
export * as webhook from './webhook/index.js';
export * as iam from './iam/index.js';
export * as sts from './sts/index.js';
export * as oidc from './oidc/index.js';
