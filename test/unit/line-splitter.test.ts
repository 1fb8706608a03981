/**
 * LineSplitter: whatever chunks a byte stream arrives in, the same lines come out, each with
 * its own `\n`, and together they are the stream, byte for byte.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/cli/line-splitter.js';

/** Splits `bytes` at `cuts` (any positions, any order, duplicates = empty chunks). */
function chunked(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const at = [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of at) {
    chunks.push(Buffer.from(bytes.subarray(start, cut)));
    start = cut;
  }
  chunks.push(Buffer.from(bytes.subarray(start)));
  return chunks;
}

function split(chunks: readonly Buffer[]): Buffer[] {
  const splitter = new LineSplitter();
  const lines: Buffer[] = [];
  for (const chunk of chunks) splitter.push(chunk, (line) => lines.push(Buffer.from(line)));
  splitter.end((line) => lines.push(Buffer.from(line)));
  return lines;
}

/** The lines as a reference implementation sees them: cut after every `\n`. */
function expectedLines(bytes: Uint8Array): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      lines.push(Buffer.from(bytes.subarray(start, i + 1)));
      start = i + 1;
    }
  }
  if (start < bytes.length) lines.push(Buffer.from(bytes.subarray(start)));
  return lines;
}

/** Bytes rich in newlines, CRs and multi-byte UTF-8, so cuts land everywhere that matters. */
const streamBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom('\n', '\r\n', '\r', '{"jsonrpc":"2.0","id":1}', 'é', '🌍', '\u2028', ' '),
        fc.string({ maxLength: 12 }),
      ),
      { maxLength: 60 },
    )
    .map((parts) => new Uint8Array(Buffer.from(parts.join(''), 'utf8'))),
);

describe('LineSplitter', () => {
  it('any chunking of a byte stream gives the same lines, which concatenate to the input', () => {
    fc.assert(
      fc.property(
        streamBytes,
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (bytes, cutsA, cutsB) => {
          const a = split(chunked(bytes, cutsA));
          const b = split(chunked(bytes, cutsB));
          const expected = expectedLines(bytes);
          expect(a).toEqual(expected);
          expect(b).toEqual(expected);
          expect(Buffer.concat(a).equals(Buffer.from(bytes))).toBe(true);
          // Every line but the last ends with exactly one \n, its only one.
          for (const [i, line] of a.entries()) {
            const newlines = line.filter((byte) => byte === 0x0a).length;
            if (i < a.length - 1) expect(line.at(-1)).toBe(0x0a);
            expect(newlines).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('one byte at a time is the same as all at once', () => {
    const text = Buffer.from('{"a":1}\r\n\nnot json\n{"b":"é🌍"}\npartial', 'utf8');
    const byteByByte = split([...text].map((b) => Buffer.from([b])));
    expect(byteByByte.map((l) => l.toString('utf8'))).toEqual([
      '{"a":1}\r\n',
      '\n',
      'not json\n',
      '{"b":"é🌍"}\n',
      'partial',
    ]);
    expect(split([text])).toEqual(byteByByte);
  });

  it('a line stays pending until its \\n arrives, and end() with nothing pending emits nothing', () => {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    splitter.push(Buffer.from('{"id":'), (l) => lines.push(l.toString()));
    splitter.push(Buffer.from('1}'), (l) => lines.push(l.toString()));
    expect(lines).toEqual([]);
    splitter.push(Buffer.from('\n'), (l) => lines.push(l.toString()));
    expect(lines).toEqual(['{"id":1}\n']);
    splitter.end((l) => lines.push(l.toString()));
    expect(lines).toEqual(['{"id":1}\n']);
  });

  it('a line the size of a megabyte, in 64 KiB chunks, comes out whole', () => {
    const line = Buffer.concat([Buffer.alloc(1024 * 1024, 0x61), Buffer.from('\n')]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < line.length; i += 65_536) chunks.push(line.subarray(i, i + 65_536));
    const lines = split(chunks);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.equals(line)).toBe(true);
  });
});
