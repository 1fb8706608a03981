import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/schema/canonical-json.js';

/** Rebuilds every object of `value` with its keys in an order drawn from `seed`. */
function shuffleKeys(value: unknown, seed: number): unknown {
  let state = seed >>> 0 || 1;
  const random = (): number => {
    // xorshift32: deterministic per seed, so a failure shrinks and replays.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      Object.defineProperty(out, key, {
        value: walk((v as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return walk(value);
}

describe('canonicalJson', () => {
  it('does not depend on key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value));
      }),
      { numRuns: 300 },
    );
  });

  it('serialises the same value JSON.stringify does (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
  });

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2, ['b', 'a']])).toBe('[3,1,2,["b","a"]]');
    expect(canonicalJson([3, 1, 2])).not.toBe(canonicalJson([1, 2, 3]));
  });

  it('drops undefined members as JSON.stringify does', () => {
    expect(canonicalJson({ b: undefined, a: 1, c: () => 1 })).toBe('{"a":1}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(canonicalJson({ a: undefined })).toBe(canonicalJson({}));
  });

  it('keeps a __proto__ key as a plain key', () => {
    const value: unknown = JSON.parse('{"b":1,"__proto__":{"x":1}}');
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":1},"b":1}');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('honours toJSON as JSON.stringify does', () => {
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson({ v: { toJSON: () => ({ b: 2, a: 1 }) } })).toBe('{"v":{"a":1,"b":2}}');
  });

  it('throws a TypeError on a cycle at once, even one that branches', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.x = cyclic;
    cyclic.y = cyclic;
    cyclic.z = [cyclic];
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
    // A shared (non-cyclic) reference is not a cycle.
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"k":1},"b":[{"k":1}]}');
  });
});

describe('canonicalJson matches the reference (sorted copy through JSON.stringify)', () => {
  /** The obvious implementation the fast writer replaced. */
  function reference(value: unknown): string {
    const sort = (v: unknown): unknown => {
      if (v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map(sort);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        Object.defineProperty(out, key, {
          value: sort((v as Record<string, unknown>)[key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    };
    return JSON.stringify(sort(value));
  }

  it('for arbitrary JSON values, unicode and lone surrogates included', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'grapheme' }), fc.string(), (value, a, b) => {
        const input = { value, [a]: b, '\ud800': a, '10': 1, '2': [b] };
        expect(canonicalJson(input)).toBe(reference(input));
      }),
      { numRuns: 2_000 },
    );
  });
});
