/**
 * RSA key pairs generated once and kept in fixture-keys/ (test keys, used nowhere else): generating them in every
 * test process took seconds, which mutation testing pays once per mutant.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function load(name: string): KeyPair {
  const privateKey = createPrivateKey(readFileSync(new URL(`fixture-keys/${name}.pem`, import.meta.url)));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The fixed key of an odd size (1024, 2040 or 3072 bits). */
export function fixedRsaKeyPair(bits: 1024 | 2040 | 3072): KeyPair {
  return load(`rsa${bits}`);
}

const POOL_2048 = 6;
let next2048 = 0;

/** A 2048-bit RSA pair, different from every earlier one in this process (fixed ones first, then fresh). */
export function rsa2048KeyPair(): KeyPair {
  next2048 += 1;
  return next2048 <= POOL_2048
    ? load(`rsa2048-${next2048}`)
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
}
