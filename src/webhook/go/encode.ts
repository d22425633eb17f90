/**
 * The encoder: json.Marshal of a decoded container as the typed Go struct would write it (struct field order,
 * omitempty, sorted map keys, canonical Quantities, Go string escaping), with one deliberate difference: fields the
 * type table does not know are appended after the known ones instead of dropped (reference bugs #208, #84).
 */
import { goAny, goKeyCompare, goString } from './json-string.js';
import {
  Container,
  EnvVar,
  structType,
  VolumeMount,
  type GoField,
  type GoStruct,
  type GoType,
} from './k8s-types.js';
import { goIntOf, GoNumber, INT32_RANGE, isJsonObject, noteNumber, type GoIntRange } from './number.js';
import { goQuantityString } from './quantity.js';

function isZero(v: unknown, t: GoType): boolean {
  // Structs, Quantity and IntOrString are never "empty" to omitempty: `"resources":{}` is always emitted.
  if (t.k === 'struct' || t.k === 'quantity' || t.k === 'intstr') return false;
  if (v === null || v === undefined) return true;
  // A value of the wrong JSON type is never "zero", so the writer sees (and flags) it.
  switch (t.k) {
    case 'str':
      return v === '';
    case 'bool':
      return v === false;
    case 'int':
      // `-0` is Go's zero too (it parses the text)
      return v === 0 || (v instanceof GoNumber && goIntOf(v, t.range as GoIntRange) === 0n);
    case 'slice':
      return Array.isArray(v) && v.length === 0;
    case 'map':
      return isPlainObject(v) && Object.keys(v).length === 0;
  }
  return false;
}

const isPlainObject = isJsonObject;

/**
 * Set by the writer when a value does not have its Go type (or a key matches a field only case-insensitively):
 * the single-pass path then falls back to checkPodTypes for Go's exact message, or to canonicalisation.
 */
let writeBad = false;

/**
 * The encoder appends to one accumulator string. V8 keeps it as a rope and flattens it once, when the bytes are
 * needed (base64 for the response): cheaper than `join` at every level or one `join` over a thousand parts.
 */
export interface Out {
  s: string;
}

function writeValue(out: Out, v: unknown, t: GoType): void {
  switch (t.k) {
    case 'str':
      if (typeof v === 'string') out.s += goString(v);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '""';
      }
      return;
    case 'bool':
      if (typeof v !== 'boolean' && v !== null && v !== undefined) writeBad = true;
      out.s += v === true ? 'true' : 'false';
      return;
    case 'int':
      if (typeof v === 'number') {
        noteNumber(v);
        if (!isGoInt(v, t.range as GoIntRange)) writeBad = true;
        out.s += String(v);
      } else if (v instanceof GoNumber) out.s += goIntText(v, t.range as GoIntRange);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '0';
      }
      return;
    case 'quantity':
      if (v === null || v === undefined) out.s += '"0"';
      else {
        if (typeof v === 'number') noteNumber(v);
        try {
          out.s += goString(goQuantityString(v));
        } catch {
          writeBad = true;
        }
      }
      return;
    case 'intstr':
      if (typeof v === 'string') out.s += goString(v);
      else if (typeof v === 'number') {
        noteNumber(v);
        if (!isGoInt(v, INT32_RANGE)) writeBad = true;
        out.s += String(v);
      } else if (v instanceof GoNumber) out.s += goIntText(v, INT32_RANGE);
      else {
        if (v !== null && v !== undefined) writeBad = true;
        out.s += '0';
      }
      return;
    case 'slice': {
      if (v === null || v === undefined) {
        out.s += 'null';
        return;
      }
      if (!Array.isArray(v)) {
        writeBad = true;
        return;
      }
      out.s += '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out.s += ',';
        writeValue(out, v[i], t.elem as GoType);
      }
      out.s += ']';
      return;
    }
    case 'map': {
      if (v === null || v === undefined) {
        out.s += 'null';
        return;
      }
      if (!isPlainObject(v)) {
        writeBad = true;
        return;
      }
      const keys = Object.keys(v).sort(goKeyCompare);
      out.s += '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        out.s += (i === 0 ? '' : ',') + goString(k) + ':';
        writeValue(out, v[k], t.elem as GoType);
      }
      out.s += '}';
      return;
    }
    case 'opaque':
      writeBad = true;
      return;
    case 'struct':
      if (v === null || v === undefined) writeStruct(out, {}, t.s as GoStruct);
      else if (isPlainObject(v)) writeStruct(out, v, t.s as GoStruct);
      else writeBad = true;
      return;
  }
}

/** Only meaningful for exact integers: anything else is noted as inexact and re-read losslessly. */
function isGoInt(v: number, range: GoIntRange): boolean {
  return Number.isInteger(v) && v >= range.lo && v < range.hi;
}

/** The value Go writes for a lossless number in an int field (`-0` → `0`); flags it when Go rejects it. */
function goIntText(v: GoNumber, range: GoIntRange): string {
  const n = goIntOf(v, range);
  if (n === undefined) {
    writeBad = true;
    return '0';
  }
  return n.toString();
}

/** Append one field of a struct being written (the part of writeStruct shared with the segment writer). */
function writeField(out: Out, f: GoField, v: unknown, first: boolean): boolean {
  if (f.ptr) {
    if (v === null || v === undefined) {
      if (f.omitempty) return first;
      out.s += (first ? f.key : f.ckey) + 'null';
      return false;
    }
  } else if (f.omitempty && isZero(v, f.t)) return first;
  out.s += first ? f.key : f.ckey;
  writeValue(out, v, f.t);
  return false;
}

/** Append the fields of `o` that `s` does not know, in input order. */
function writeUnknown(
  out: Out,
  o: Record<string, unknown>,
  s: GoStruct,
  first: boolean,
  keys: string[] = Object.keys(o),
): boolean {
  for (const k of keys) {
    if (s.byJson.has(k)) continue;
    if (s.byFold.has(k.toLowerCase())) writeBad = true; // Go would read it as a known field
    out.s += (first ? '' : ',') + goString(k) + ':' + goAny(o[k]);
    first = false;
  }
  return first;
}

/** Append the JSON of `o` as the Go struct `s` would marshal it, then the fields `s` does not know. */
export function writeStruct(out: Out, o: Record<string, unknown>, s: GoStruct): void {
  out.s += '{';
  let first = true;
  let found = 0;
  const fields = s.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as GoField;
    const v = o[f.json];
    if (v !== undefined) found++;
    first = writeField(out, f, v, first);
  }
  const keys = Object.keys(o);
  // Every own key was a field: nothing unknown to append (the usual case).
  if (!s.countable || keys.length !== found) writeUnknown(out, o, s, first, keys);
  out.s += '}';
}

/**
 * A container encoded once, in pieces, so the mutation can splice its env entries and volume mount in without
 * re-encoding: `pre` + `,"env":[env…]` + `mid` + `,"volumeMounts":[mounts…]` + `post`. `name` is never omitted
 * and comes first, so every later field starts with a comma.
 */
export interface ContainerSegments {
  pre: string;
  env: string;
  envCount: number;
  mid: string;
  mounts: string;
  mountCount: number;
  post: string;
}

function writeItems(out: Out, v: unknown, elem: GoType): number {
  if (v === null || v === undefined) return 0;
  if (!Array.isArray(v)) {
    writeBad = true;
    return 0;
  }
  for (let i = 0; i < v.length; i++) {
    if (i > 0) out.s += ',';
    writeValue(out, v[i], elem);
  }
  return v.length;
}

const ENV_FIELD = 'env';
const ENV_T = structType(EnvVar);
const MOUNT_T = structType(VolumeMount);
const MOUNTS_FIELD = 'volumeMounts';

/**
 * Type-check and encode a decoded container in one pass. Undefined when any value does not have its Go type
 * (or a key only case-folds to a field): the caller then takes the two-pass path for Go's exact error.
 */
export function containerSegments(c: unknown): ContainerSegments | undefined {
  if (!isPlainObject(c)) return c === null ? containerSegments({}) : undefined;
  writeBad = false;
  const pre: Out = { s: '{' };
  const env: Out = { s: '' };
  const mid: Out = { s: '' };
  const mounts: Out = { s: '' };
  const post: Out = { s: '' };
  let cur = pre;
  let first = true;
  let envCount = 0;
  let mountCount = 0;
  let found = 0;
  for (const f of Container.fields) {
    const v = c[f.json];
    if (v !== undefined) found++;
    if (f.json === ENV_FIELD) {
      envCount = writeItems(env, v, ENV_T);
      cur = mid;
      continue;
    }
    if (f.json === MOUNTS_FIELD) {
      mountCount = writeItems(mounts, v, MOUNT_T);
      cur = post;
      continue;
    }
    first = writeField(cur, f, v, first);
  }
  const keys = Object.keys(c);
  if (!Container.countable || keys.length !== found) writeUnknown(post, c, Container, first, keys);
  post.s += '}';
  if (writeBad) return undefined;
  return { pre: pre.s, env: env.s, envCount, mid: mid.s, mounts: mounts.s, mountCount, post: post.s };
}

export function encodeStruct(o: Record<string, unknown>, s: GoStruct): string {
  const out: Out = { s: '' };
  writeStruct(out, o, s);
  return out.s;
}

export function writeContainer(out: Out, c: Record<string, unknown>): void {
  writeStruct(out, c, Container);
}

export function encodeContainer(c: Record<string, unknown>): string {
  return encodeStruct(c, Container);
}
