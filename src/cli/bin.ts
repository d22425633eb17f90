#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { main } from './main.js';
import { exitStatusOf, failureText } from './errors.js';
import { unsupportedNode } from './node-version.js';
import { leaveWorkerPool } from '../net/workers.js';

/** The nearest package.json above this file (dist/src/cli/bin.js installed or built, src/cli/bin.ts under tsx). */
function enginesNode(): string | undefined {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as { engines?: { node?: string } }).engines?.node;
    if (dir.pathname === '/') return undefined;
  }
}

const engines = enginesNode();
const tooOld = engines ? unsupportedNode(process.version, engines) : undefined;
if (tooOld) {
  console.error(tooOld);
  process.exit(1);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    leaveWorkerPool();
  },
  (err: unknown) => {
    console.error(failureText(err));
    if (process.env.OPENIRSA_DEBUG && err instanceof Error) console.error(err.stack);
    process.exitCode = exitStatusOf(err);
    // A `--workers` worker that failed (e.g. at start): its IPC channel to the primary would keep it running.
    leaveWorkerPool();
  },
);
