/**
 * Canonical JSON: object keys sorted recursively, no whitespace, `undefined` members dropped as
 * JSON.stringify drops them. Two values with the same contract serialise to the same text
 * whatever the order their producer wrote keys in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, 0));
}

const MAX_DEPTH = 256;

function sortKeys(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, depth + 1));
  const record = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) {
    // defineProperty, not assignment: a "__proto__" key must stay a plain key.
    Object.defineProperty(sorted, key, {
      value: sortKeys(record[key], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return sorted;
}
