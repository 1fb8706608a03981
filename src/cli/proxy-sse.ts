/**
 * Splits a `text/event-stream` body into events as the bytes arrive, keeping each event's exact
 * bytes, so the proxy can forward an event the moment it is complete, unchanged unless it
 * chooses to rewrite it. Line ends are LF, CRLF or CR (HTML Living Standard, "Parsing an event
 * stream"); a CR at the end of a chunk waits for the next chunk to know whether an LF follows.
 */

/** Largest event held whole; beyond it the bytes pass through as they come, unobserved. */
export const MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024;

/** One piece of the stream, in order. */
export interface SseChunk {
  /** The bytes, exactly as received. */
  readonly raw: Buffer;
  /**
   * A complete event (it ended with a blank line): its fields, for reading and rewriting.
   * Undefined for bytes passed through without parsing (an event over the size cap, or what
   * was left when the stream ended).
   */
  readonly event: SseEvent | undefined;
}

/** A complete event's fields. */
export interface SseEvent {
  /** `event:` field; `message` when absent. */
  readonly type: string;
  /** `data:` lines joined with `\n`; undefined when the event has none. */
  readonly data: string | undefined;
  /** Every line except `data:` ones, with their line ends (`event:`, `id:`, `retry:`, comments). */
  readonly otherLines: readonly Buffer[];
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** One stream's splitter: feed it chunks with `push`, then call `end`. */
export class SseSplitter {
  /** Complete lines of the current event, with their line ends. */
  private lines: Buffer[] = [];
  private linesLength = 0;
  /** Bytes of a line whose end has not arrived. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** The held line ended with a CR at the end of a chunk: an LF may follow. */
  private crPending = false;
  /** Over the size cap: pass bytes through until the event's blank line. */
  private skipping = false;
  /** While skipping: the current line already has content (so its end is not a blank line). */
  private lineStarted = false;

  constructor(private readonly maxEventBytes = MAX_SSE_EVENT_BYTES) {}

  /** Feeds bytes; calls `emit` for every piece that is ready, in order. */
  push(chunk: Buffer, emit: (piece: SseChunk) => void): void {
    let start = 0;
    if (this.crPending) {
      this.crPending = false;
      // The CR held back ended a line; an LF right after it belongs to the same line end.
      if (chunk.length > 0 && chunk[0] === LF) start = 1;
      const line = this.takePartial(chunk.subarray(0, start));
      this.line(line, emit);
    }
    let nextCr = chunk.indexOf(CR, start);
    let nextLf = chunk.indexOf(LF, start);
    while (nextCr !== -1 || nextLf !== -1) {
      let end: number;
      if (nextLf !== -1 && (nextCr === -1 || nextLf < nextCr)) {
        end = nextLf + 1;
      } else if (nextCr === chunk.length - 1) {
        // CR as the chunk's last byte: hold the line until we know whether an LF follows.
        this.hold(chunk.subarray(start));
        this.crPending = true;
        return;
      } else {
        end = chunk[nextCr + 1] === LF ? nextCr + 2 : nextCr + 1;
      }
      this.line(this.takePartial(chunk.subarray(start, end)), emit);
      start = end;
      if (nextCr !== -1 && nextCr < start) nextCr = chunk.indexOf(CR, start);
      if (nextLf !== -1 && nextLf < start) nextLf = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    if (this.skipping && this.partialLength > 0) {
      this.lineStarted = true;
      emit({ raw: this.takePartial(EMPTY), event: undefined });
    } else if (this.linesLength + this.partialLength > this.maxEventBytes) {
      this.startSkipping(emit);
    }
  }

  /** The stream ended: whatever is held passes through as it is. */
  end(emit: (piece: SseChunk) => void): void {
    this.crPending = false;
    const held = Buffer.concat([...this.lines, ...this.partial]);
    this.reset();
    this.skipping = false;
    this.lineStarted = false;
    if (held.length > 0) emit({ raw: held, event: undefined });
  }

  private line(line: Buffer, emit: (piece: SseChunk) => void): void {
    const blank = isLineEnd(line);
    if (this.skipping) {
      const endsEvent = blank && !this.lineStarted;
      this.lineStarted = false;
      if (endsEvent) this.skipping = false;
      emit({ raw: line, event: undefined });
      return;
    }
    this.lines.push(line);
    this.linesLength += line.length;
    if (!blank) {
      if (this.linesLength > this.maxEventBytes) this.startSkipping(emit);
      return;
    }
    const lines = this.lines;
    this.reset();
    emit({ raw: Buffer.concat(lines), event: parseEvent(lines) });
  }

  private startSkipping(emit: (piece: SseChunk) => void): void {
    const held = Buffer.concat([...this.lines, ...this.partial]);
    this.lineStarted = this.partialLength > 0;
    this.reset();
    this.skipping = true;
    emit({ raw: held, event: undefined });
  }

  private hold(bytes: Buffer): void {
    this.partial.push(bytes);
    this.partialLength += bytes.length;
  }

  private takePartial(rest: Buffer): Buffer {
    if (this.partialLength === 0) return rest;
    const line = Buffer.concat([...this.partial, rest], this.partialLength + rest.length);
    this.partial = [];
    this.partialLength = 0;
    return line;
  }

  private reset(): void {
    this.lines = [];
    this.linesLength = 0;
    this.partial = [];
    this.partialLength = 0;
  }
}

function isLineEnd(line: Buffer): boolean {
  return (
    (line.length === 1 && (line[0] === LF || line[0] === CR)) ||
    (line.length === 2 && line[0] === CR && line[1] === LF)
  );
}

function parseEvent(lines: readonly Buffer[]): SseEvent {
  let type = 'message';
  let data: string | undefined;
  const otherLines: Buffer[] = [];
  for (const line of lines) {
    if (isLineEnd(line)) continue;
    const text = stripLineEnd(line.toString('utf8'));
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data = data === undefined ? value : `${data}\n${value}`;
      continue;
    }
    if (field === 'event') type = value;
    otherLines.push(line);
  }
  return { type, data, otherLines };
}

function stripLineEnd(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n') || text.endsWith('\r')) return text.slice(0, -1);
  return text;
}

/** An event's bytes with its data replaced (other fields kept, in order, before it). */
export function rewriteEvent(event: SseEvent, data: string): Buffer {
  const dataLines = data
    .split('\n')
    .map((line) => `data: ${line}\n`)
    .join('');
  return Buffer.concat([...event.otherLines, Buffer.from(`${dataLines}\n`, 'utf8')]);
}
