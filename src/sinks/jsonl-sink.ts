import { createWriteStream, type WriteStream } from 'node:fs';
import type { EventSink } from '../event-bus.js';
import type { ProxyEvent } from '../events.js';
import { reportError } from '../diagnostics.js';

/** Options of {@link createJsonlSink}. */
export interface JsonlSinkOptions {
  /** File to append to; created when missing. */
  path: string;
  /** Sink name in diagnostics. @default 'jsonl' */
  name?: string;
}

/**
 * Creates a sink that appends one JSON object per event per line to a file. Writes are
 * buffered by the stream and never awaited on the dispatch path; `flush()` waits for them.
 * @example instrument(server, { sinks: [createJsonlSink({ path: 'mcp-events.jsonl' })] });
 */
export function createJsonlSink(options: JsonlSinkOptions): EventSink {
  if (typeof options?.path !== 'string' || options.path.length === 0) {
    throw new TypeError('createJsonlSink: options.path must be a non-empty string');
  }
  let stream: WriteStream | undefined;
  let failed = false;
  const open = (): WriteStream | undefined => {
    if (stream || failed) return stream;
    stream = createWriteStream(options.path, { flags: 'a' });
    stream.on('error', (error) => {
      failed = true;
      reportError(`jsonl sink ${options.path}`, error);
    });
    return stream;
  };
  const write = (events: readonly ProxyEvent[]): void => {
    const out = open();
    if (!out || failed) return;
    let text = '';
    for (const event of events) text += JSON.stringify(event) + '\n';
    out.write(text);
  };
  return {
    name: options.name ?? 'jsonl',
    onEvent(event) {
      write([event]);
    },
    onBatch(events) {
      write(events);
    },
    async flush() {
      const out = stream;
      if (!out || failed || out.writableEnded || out.writableLength === 0) return;
      // Not once('drain'): 'drain' only follows a write() that returned false, so after a few
      // small writes it never comes. An empty write's callback runs once every write before it
      // is on disk, or with the error when the stream failed (reported by the 'error' handler).
      await new Promise<void>((resolve) => out.write('', () => resolve()));
    },
    async shutdown() {
      const out = stream;
      if (!out || out.closed) return;
      await new Promise<void>((resolve) => out.end(resolve));
    },
  };
}
