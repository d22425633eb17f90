#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { main } from './main.js';
import { CliError, messageOf } from './errors.js';
import { unsupportedNode } from './node-version.js';

// dist/src/cli/bin.js → the package's own package.json, whose engines field says which Node.js it needs.
const engines = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    engines?: { node?: string };
  }
).engines?.node;
const tooOld = engines ? unsupportedNode(process.version, engines) : undefined;
if (tooOld) {
  console.error(tooOld);
  process.exit(1);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`openirsa: ${messageOf(err)}`);
    if (process.env.OPENIRSA_DEBUG && err instanceof Error) console.error(err.stack);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  },
);
