/**
 * UTF-8 byte length of `JSON.stringify(value)`, computed by walking the value instead of
 * building the string: no allocation for the text, which matters for large list results.
 * Returns undefined where JSON.stringify would throw (cycles, BigInt) or the value nests
 * deeper than `MAX_DEPTH`.
 */
export function jsonByteLength(value: unknown): number | undefined {
  try {
    return measure(value, 0);
  } catch {
    return undefined;
  }
}

const MAX_DEPTH = 256;

// eslint-disable-next-line @typescript-eslint/unbound-method
const hasOwnProperty = Object.prototype.hasOwnProperty;

class Unmeasurable extends Error {}

function measure(value: unknown, depth: number): number {
  if (depth > MAX_DEPTH) throw new Unmeasurable();
  switch (typeof value) {
    case 'string':
      return stringLength(value);
    case 'number':
      return Number.isFinite(value) ? String(value).length : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'bigint':
      throw new Unmeasurable();
    case 'object': {
      if (value === null) return 4;
      const withToJson = value as { toJSON?: unknown };
      if (typeof withToJson.toJSON === 'function') {
        return measure((withToJson.toJSON as () => unknown).call(value), depth + 1);
      }
      if (Array.isArray(value)) {
        let total = 2 + Math.max(0, value.length - 1);
        for (const item of value) {
          total += isSkipped(item) ? 4 : measure(item, depth + 1);
        }
        return total;
      }
      let total = 2;
      let count = 0;
      const record = value as Record<string, unknown>;
      // for-in over own keys is Object.keys without the array it allocates (a third faster on
      // the message path); the keys, and so the sum, are the same.
      for (const key in record) {
        // hasOwnProperty on the object being enumerated: V8 answers it from the enum cache.
        if (!hasOwnProperty.call(record, key)) continue;
        const item = record[key];
        if (isSkipped(item)) continue;
        total += stringLength(key) + 1 + measure(item, depth + 1);
        count++;
      }
      return total + Math.max(0, count - 1);
    }
    default:
      // undefined, function, symbol at top level: JSON.stringify returns undefined.
      throw new Unmeasurable();
  }
}

function isSkipped(value: unknown): boolean {
  const t = typeof value;
  return t === 'undefined' || t === 'function' || t === 'symbol';
}

/** Strings up to this length are counted by the loop, longer ones tested by {@link PLAIN} first. */
const SHORT = 12;

/** Printable ASCII but `"` and `\`: one byte each, never escaped. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Bytes of a JSON string literal, quotes included, with JSON.stringify's escaping. */
function stringLength(text: string): number {
  const n = text.length;
  // Most text (names, descriptions, ids) is plain: the regex engine checks a long one faster
  // than the loop below counts it (a quarter off a 50-tool tools/list page); a short one (keys,
  // methods, ids) the loop counts before the regex engine would have started.
  if (n > SHORT && PLAIN.test(text)) return n + 2;
  let total = 2;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0x22 || c === 0x5c) total += 2;
      else if (c < 0x20) total += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
      else total += 1;
    } else if (c < 0x800) {
      total += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        total += 4;
        i++;
      } else {
        total += 6; // lone high surrogate: escaped as \udXXX
      }
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      total += 6; // lone low surrogate
    } else {
      total += 3;
    }
  }
  return total;
}
