import type { EventSink } from '../event-bus.js';
import type { ProxyEvent, RequestEvent } from '../events.js';
import { printable } from '../diagnostics.js';

/** Options of {@link createConsoleSink}. */
export interface ConsoleSinkOptions {
  /** `pretty`: one aligned line per event; `json`: one JSON object per line. @default 'pretty' */
  format?: 'pretty' | 'json';
  /** Where lines go. Never stdout, which stdio transports own. @default process.stderr */
  stream?: { write(chunk: string): unknown };
  /** Include heartbeat events. @default true */
  heartbeats?: boolean;
  /** Sink name in diagnostics. @default 'console' */
  name?: string;
}

/**
 * Creates a sink that prints events to stderr, e.g.
 * `12:04:05 tools/call search  4.20ms  1.2KB→3.4KB  ok  claude-desktop`.
 * @example instrument(server, { sinks: [createConsoleSink()] });
 */
export function createConsoleSink(options: ConsoleSinkOptions = {}): EventSink {
  const format = options.format ?? 'pretty';
  if (format !== 'pretty' && format !== 'json') {
    throw new TypeError(
      `createConsoleSink: format must be 'pretty' or 'json', got ${printable(format)}`,
    );
  }
  const stream = options.stream ?? process.stderr;
  const heartbeats = options.heartbeats ?? true;
  const render = format === 'json' ? (e: ProxyEvent) => JSON.stringify(e) : formatPretty;
  const write = (events: readonly ProxyEvent[]): void => {
    let text = '';
    for (const event of events) {
      if (!heartbeats && event.type === 'heartbeat') continue;
      text += render(event) + '\n';
    }
    if (text) stream.write(text);
  };
  return {
    name: options.name ?? 'console',
    onEvent(event) {
      write([event]);
    },
    onBatch(events) {
      write(events);
    },
  };
}

/** One human-readable line for an event. */
export function formatPretty(event: ProxyEvent): string {
  const time = clock(event.ts);
  switch (event.type) {
    case 'request':
      return formatRequest(time, event);
    case 'session_start':
      return `${time} session+ ${short(event.sessionId)}  ${event.clientName ?? '?'} ${event.clientVersion ?? ''} (${event.clientPlatform})  ${event.protocolVersion ?? ''}  ${event.transport}`.trimEnd();
    case 'session_end':
      return `${time} session- ${short(event.sessionId)}  ${event.reason}  ${(event.durationMs / 1000).toFixed(1)}s  ${event.requestCount} req  ${event.errorCount} err`;
    case 'heartbeat':
      return `${time} heartbeat ${event.server}  up ${event.uptimeSecs}s  ${event.requestCount} req  ${event.errorCount} err  ${event.activeSessions} sessions  ${event.inFlightRequests} in flight  ${event.droppedEvents} dropped  loop p99 ${event.eventLoopDelayMs.toFixed(1)}ms  rss ${bytes(event.rssBytes)}`;
    case 'schema_version_created': {
      const { added, removed, modified } = event.changes;
      return `${time} schema ${event.method} v${event.version} ${event.versionId}  +${added.length} -${removed.length} ~${modified.length}`;
    }
    default:
      return event satisfies never;
  }
}

function formatRequest(time: string, e: RequestEvent): string {
  const target = e.tool ?? e.prompt ?? e.resourceUri ?? '';
  const method = target ? `${e.mcpMethod} ${target}` : e.mcpMethod;
  const arrow = e.role === 'client' ? '→' : '←';
  const sizes =
    e.requestSize !== undefined || e.responseSize !== undefined
      ? `  ${bytes(e.requestSize)}→${bytes(e.responseSize)}`
      : '';
  const outcome = e.errorCode ? `${e.note} ${e.errorCode}` : e.note;
  const who = e.clientName ? `  ${e.clientName}` : '';
  return `${time} ${arrow} ${method}  ${(e.latencyUs / 1000).toFixed(2)}ms${sizes}  ${outcome}${who}`;
}

function clock(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function short(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}KB`;
  return `${(n / (1024 * 1024)).toFixed(1)}MB`;
}
