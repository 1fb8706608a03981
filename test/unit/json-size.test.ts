import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonByteLength } from '../../src/transport/json-size.js';

/** What the size must equal: the UTF-8 bytes of what JSON.stringify writes. */
function expected(value: unknown): number | undefined {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? undefined : Buffer.byteLength(text, 'utf8');
}

/** Any UTF-16 code unit: lone surrogates, control characters, quotes, backslashes. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const awkward = fc.constantFrom(
  '"',
  '\\',
  '\u0000',
  '\b',
  '\t',
  '\n',
  '\f',
  '\r',
  '\u001f',
  '\u007f',
  '\u2028',
  '\ud800',
  '\udfff',
  '😀',
  '👩‍👩‍👧',
  'é',
  '中',
);
const nastyString = fc.string({ unit: fc.oneof(codeUnit, awkward), maxLength: 40 });

describe('jsonByteLength', () => {
  it('equals the UTF-8 length of JSON.stringify for any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonByteLength(value)).toBe(expected(value));
      }),
      { numRuns: 500 },
    );
  });

  it('holds for full-unicode, lone-surrogate and control-character strings (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ stringUnit: 'binary' }),
          fc.jsonValue({ stringUnit: 'grapheme' }),
          fc.jsonValue({ stringUnit: fc.oneof(codeUnit, awkward) }),
          nastyString,
        ),
        (value) => {
          expect(jsonByteLength(value)).toBe(expected(value));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('holds for values JSON cannot represent as they are (property)', () => {
    // undefined, functions, -0, NaN, Infinity, Dates, holes in arrays, odd keys.
    fc.assert(
      fc.property(
        fc.anything({ withDate: true, withSparseArray: true, withObjectString: true }),
        (value) => {
          expect(jsonByteLength(value)).toBe(expected(value));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts the escapes JSON.stringify writes', () => {
    expect(jsonByteLength('"\\')).toBe(6); // "\"\\"
    expect(jsonByteLength('\n\u0001')).toBe(10); // "\n\u0001"
    expect(jsonByteLength('\ud800')).toBe(8); // "\ud800"
    expect(jsonByteLength('😀')).toBe(6);
    expect(jsonByteLength('é中')).toBe(7);
    expect(jsonByteLength({ a: [1, null, true, false, -0, 1e21, Number.NaN] })).toBe(
      expected({ a: [1, null, true, false, -0, 1e21, Number.NaN] }),
    );
  });

  it('drops undefined and function members as JSON.stringify does', () => {
    const value = { a: undefined, b: () => 1, c: Symbol('c'), d: [undefined, () => 1], e: 1 };
    expect(jsonByteLength(value)).toBe(expected(value));
    expect(jsonByteLength(value)).toBe('{"d":[null,null],"e":1}'.length);
  });

  it('uses toJSON (Date)', () => {
    const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(jsonByteLength(date)).toBe(expected(date));
    expect(jsonByteLength({ at: date, bad: new Date(Number.NaN) })).toBe(
      expected({ at: date, bad: new Date(Number.NaN) }),
    );
    const custom = { toJSON: () => ({ x: 'é' }) };
    expect(jsonByteLength([custom])).toBe(expected([custom]));
  });

  it('is undefined where JSON.stringify throws or writes nothing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    cyclic.again = [cyclic];
    expect(jsonByteLength(cyclic)).toBeUndefined();
    expect(jsonByteLength({ n: 10n })).toBeUndefined();
    expect(jsonByteLength(10n)).toBeUndefined();
    expect(jsonByteLength(undefined)).toBeUndefined();
    expect(jsonByteLength(() => 1)).toBeUndefined();
  });

  it('measures a shared (non-cyclic) reference each time it appears', () => {
    const shared = { k: 'v' };
    const value = { a: shared, b: [shared, shared] };
    expect(jsonByteLength(value)).toBe(expected(value));
  });
});
