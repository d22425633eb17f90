#!/usr/bin/env node
import { main } from './main.js';
import { CliError, messageOf } from './errors.js';

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
