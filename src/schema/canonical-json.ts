/**
 * Canonical JSON: object keys sorted recursively, no whitespace, `undefined` members dropped as
 * JSON.stringify drops them. Two values with the same contract serialise to the same text
 * whatever the order their producer wrote keys in. Like JSON.stringify, it honours `toJSON`
 * and throws a TypeError on a cycle.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, 0, new Set()));
}

const MAX_DEPTH = 256;

function sortKeys(value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return sortKeys((withToJson.toJSON as () => unknown).call(value), depth + 1, ancestors);
  }
  // Without this a cycle is walked down to MAX_DEPTH along every branch: 2 self-references
  // cost 2^256 calls before JSON.stringify could report it.
  if (ancestors.has(value)) throw new TypeError('canonicalJson: circular structure');
  ancestors.add(value);
  let result: unknown;
  if (Array.isArray(value)) {
    result = value.map((item) => sortKeys(item, depth + 1, ancestors));
  } else {
    const record = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) {
      // defineProperty, not assignment: a "__proto__" key must stay a plain key.
      Object.defineProperty(sorted, key, {
        value: sortKeys(record[key], depth + 1, ancestors),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    result = sorted;
  }
  ancestors.delete(value);
  return result;
}
