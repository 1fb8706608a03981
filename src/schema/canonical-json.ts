/**
 * Canonical JSON: object keys sorted recursively, no whitespace, `undefined` members dropped as
 * JSON.stringify drops them. Two values with the same contract serialise to the same text
 * whatever the order their producer wrote keys in. Like JSON.stringify, it honours `toJSON`
 * and throws a TypeError on a cycle.
 *
 * Written out directly rather than by building sorted copies for JSON.stringify: no object,
 * property descriptor or array per node (the schema tracker runs this over every tool of every
 * tools/list).
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0, new Set()) as string;
}

const MAX_DEPTH = 256;

/** The text of `value`, or undefined where JSON.stringify would leave it out. */
function write(value: unknown, depth: number, ancestors: Set<object>): string | undefined {
  if (typeof value === 'string') return quote(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  // Deeper than MAX_DEPTH: as it is (the copy-based version left it unsorted too).
  if (depth > MAX_DEPTH) return JSON.stringify(value);
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return write((withToJson.toJSON as () => unknown).call(value), depth + 1, ancestors);
  }
  if (ancestors.has(value)) throw new TypeError('canonicalJson: circular structure');
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], depth + 1, ancestors) ?? 'null';
    }
    out += ']';
  } else {
    const record = value as Record<string, unknown>;
    out = '{';
    let first = true;
    for (const key of sortedKeys(record)) {
      const text = write(record[key], depth + 1, ancestors);
      if (text === undefined) continue;
      if (!first) out += ',';
      first = false;
      out += quote(key) + ':' + text;
    }
    out += '}';
  }
  ancestors.delete(value);
  return out;
}

/**
 * The keys in the order a fresh object given them sorted would list them, as the copy-based
 * version produced: array indices first, ascending, then the rest sorted.
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  let indices: string[] | undefined;
  let names: string[] | undefined;
  for (const key of keys) {
    if (isArrayIndex(key)) (indices ??= []).push(key);
    else (names ??= []).push(key);
  }
  if (indices === undefined) return keys.sort();
  indices.sort((a, b) => Number(a) - Number(b));
  return names === undefined ? indices : indices.concat(names.sort());
}

function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39)) return false; // most keys: not a digit
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4_294_967_295;
}

/** Characters JSON.stringify escapes: quote, backslash, controls, surrogates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(text), without the call for the common text that needs no escape. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"';
}
