/**
 * The type check of Go's `json.Unmarshal(raw, &pod)` over the type table (k8s-types.ts): Go's UnmarshalTypeError
 * messages, so the admission response for an ill-typed pod matches the reference, and the case-insensitive key
 * matching Go does (canonicalisePod).
 */
import {
  goIntOf,
  GoNumber,
  INT32_RANGE,
  isJsonObject,
  noteNumber,
  numberText,
  type GoIntRange,
} from './number.js';
import { goTypeName, Pod, PodShallow, type GoStruct, type GoType } from './k8s-types.js';
import { goQuantityString, QuantityError } from './quantity.js';
import { OpenIrsaError } from '../../errors.js';

/** The JSON kind Go's UnmarshalTypeError names ("string", "number", "bool", "array", "object"). */
export function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return v instanceof GoNumber ? 'number' : 'object';
  }
}

interface Ctx {
  /** Go name of the struct holding the field being decoded ("" at the top level). */
  struct: string;
  /** Dotted JSON path of the field (Go's errorContext.FieldStack, embedded struct names included). */
  path: string;
}

class DecodeError extends OpenIrsaError {
  constructor(message: string) {
    super('GoJsonTypeInvalid', message);
  }
}

function typeError(value: string, t: GoType, ctx: Ctx, top: string): DecodeError {
  if (ctx.struct === '' && ctx.path === '')
    return new DecodeError(`json: cannot unmarshal ${value} into Go value of type ${top}`);
  return new DecodeError(
    `json: cannot unmarshal ${value} into Go struct field ${ctx.struct}.${ctx.path} of type ${goTypeName(t)}`,
  );
}

/** Set by checkStruct when a key matched a field only case-insensitively (Go accepts `Name` for `name`). */
let foldSeen = false;

function checkValue(v: unknown, t: GoType, ctx: Ctx): void {
  if (v === null || v === undefined) return; // null leaves Go's zero value
  switch (t.k) {
    case 'opaque':
      return;
    case 'str':
      if (typeof v !== 'string') throw typeError(jsonKind(v), t, ctx, t.go);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(jsonKind(v), t, ctx, 'bool');
      return;
    case 'int':
      if (typeof v === 'number') noteNumber(v);
      else if (!(v instanceof GoNumber)) throw typeError(jsonKind(v), t, ctx, t.go);
      // Go parses the number's exact text (strconv.ParseInt) and names it in the error.
      if (goIntOf(v, t.range as GoIntRange) === undefined)
        throw typeError('number ' + numberText(v), t, ctx, t.go);
      return;
    case 'quantity':
      if (typeof v === 'number') noteNumber(v);
      try {
        goQuantityString(v);
      } catch (e) {
        if (e instanceof QuantityError) throw new DecodeError(e.message);
        throw e;
      }
      return;
    case 'intstr':
      // IntOrString.UnmarshalJSON re-enters json.Unmarshal, so its errors carry no struct context.
      if (typeof v === 'string') return;
      if (typeof v === 'number') noteNumber(v);
      else if (!(v instanceof GoNumber))
        throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type int32`);
      if (goIntOf(v, INT32_RANGE) === undefined)
        throw new DecodeError(`json: cannot unmarshal number ${numberText(v)} into Go value of type int32`);
      return;
    case 'slice':
      if (!Array.isArray(v)) throw typeError(jsonKind(v), t, ctx, t.go);
      for (const e of v) checkValue(e, t.elem as GoType, ctx);
      return;
    case 'map': {
      if (!isJsonObject(v)) throw typeError(jsonKind(v), t, ctx, t.go);
      for (const k of Object.keys(v)) checkValue(v[k], t.elem as GoType, ctx);
      return;
    }
    case 'struct':
      if (!isJsonObject(v)) throw typeError(jsonKind(v), t, ctx, 'v1.' + (t.s as GoStruct).name);
      checkStruct(v, t.s as GoStruct, ctx.path);
      return;
  }
}

function checkStruct(o: Record<string, unknown>, s: GoStruct, path: string): void {
  const prefix = path === '' ? '' : path + '.';
  for (const k of Object.keys(o)) {
    let f = s.byJson.get(k);
    if (f === undefined) {
      f = s.byFold.get(k.toLowerCase());
      if (f === undefined) continue; // unknown: preserved (or not ours to check, in partial tables)
      foldSeen = true;
    }
    const via = f.via.length === 0 ? '' : f.via.join('.') + '.';
    checkValue(o[k], f.t, { struct: s.name, path: prefix + via + f.json });
  }
}

/**
 * Check a decoded pod the way Go's json.Unmarshal into corev1.Pod would (for the fields in our tables).
 * Returns Go's error message, or undefined. `folded` says some key matched only case-insensitively, so the
 * pod must go through canonicalisePod before it is read.
 */
export function checkPodTypes(pod: unknown): { error?: string; folded: boolean } {
  foldSeen = false;
  try {
    if (pod === null || pod === undefined) return { error: 'unexpected end of JSON input', folded: false };
    if (!isJsonObject(pod))
      return { error: `json: cannot unmarshal ${jsonKind(pod)} into Go value of type v1.Pod`, folded: false };
    checkStruct(pod, Pod, '');
    return { folded: foldSeen };
  } catch (e) {
    if (e instanceof DecodeError) return { error: e.message, folded: false };
    throw e;
  }
}

/**
 * Rewrite keys that Go would match case-insensitively to their canonical names (last one wins, as in Go), in a
 * copy: the caller's object is never modified. Only needed when checkPodTypes reported `folded`.
 */
export function canonicalisePod(pod: Record<string, unknown>): Record<string, unknown> {
  return canonStruct(pod, Pod);
}

function canonValue(v: unknown, t: GoType): unknown {
  if (v === null || v === undefined) return v;
  if (t.k === 'struct') return canonStruct(v as Record<string, unknown>, t.s as GoStruct);
  if (t.k === 'slice') return (v as unknown[]).map((e) => canonValue(e, t.elem as GoType));
  return v;
}

function canonStruct(o: Record<string, unknown>, s: GoStruct): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const f = s.byJson.get(k) ?? s.byFold.get(k.toLowerCase());
    if (f === undefined) {
      out[k] = o[k];
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(out, f.json)) delete out[f.json]; // re-insert: last one wins
    out[f.json] = canonValue(o[k], f.t);
  }
  return out;
}

/** checkPodTypes without the containers: true when the rest of the pod is well-typed and has no folded keys. */
export function podShallowOk(pod: Record<string, unknown>): boolean {
  foldSeen = false;
  try {
    checkStruct(pod, PodShallow, '');
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw e;
  }
  return !foldSeen;
}
