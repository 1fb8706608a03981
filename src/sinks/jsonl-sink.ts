import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
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
      if (!stream || failed || stream.writableLength === 0) return;
      await once(stream, 'drain');
    },
    async shutdown() {
      const out = stream;
      if (!out || out.closed) return;
      await new Promise<void>((resolve) => out.end(resolve));
    },
  };
}
