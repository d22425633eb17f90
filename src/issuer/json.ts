/**
 * JSON exactly as Go's encoding/json Marshal writes it (compact; <, >, &, U+2028 and U+2029
 * escaped), so documents compare byte for byte with kube-apiserver's.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
