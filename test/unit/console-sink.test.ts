import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../src/event-bus.js';
import type {
  HeartbeatEvent,
  ProxyEvent,
  RequestEvent,
  SchemaVersionCreatedEvent,
  SessionEndEvent,
  SessionStartEvent,
} from '../../src/events.js';
import { createConsoleSink, formatPretty } from '../../src/sinks/console-sink.js';

const TS = new Date(2026, 0, 2, 3, 4, 5, 678).getTime(); // local time 03:04:05

const request: RequestEvent = {
  type: 'request',
  id: '5b0c8f9e-1c1d-4c4b-9a53-0f6f3c3b2a10',
  ts: TS,
  server: 'weather',
  sessionId: 'abcdef0123456789',
  role: 'server',
  transport: 'stdio',
  mcpMethod: 'tools/call',
  jsonrpcId: '7',
  tool: 'search',
  latencyUs: 4_200,
  requestSize: 1_229,
  responseSize: 3_482,
  clientName: 'claude-desktop',
  clientVersion: '0.9.1',
  clientPlatform: 'claude',
  note: 'ok',
};

const sessionStart: SessionStartEvent = {
  type: 'session_start',
  sessionId: 'abcdef0123456789',
  server: 'weather',
  ts: TS,
  clientName: 'cursor-vscode',
  clientVersion: '1.0.0',
  clientPlatform: 'cursor',
  protocolVersion: '2025-06-18',
  transport: 'streamable-http',
  role: 'server',
};

const sessionEnd: SessionEndEvent = {
  type: 'session_end',
  sessionId: 'abcdef0123456789',
  server: 'weather',
  ts: TS,
  durationMs: 12_345,
  requestCount: 9,
  errorCount: 2,
  reason: 'idle_timeout',
  transport: 'stdio',
  role: 'server',
};

const heartbeat: HeartbeatEvent = {
  type: 'heartbeat',
  ts: TS,
  server: 'weather',
  uptimeSecs: 61,
  requestCount: 40,
  errorCount: 3,
  activeSessions: 2,
  inFlightRequests: 1,
  droppedEvents: 5,
  eventLoopDelayMs: 1.234,
  rssBytes: 50 * 1024 * 1024,
  heapUsedBytes: 1,
};

const schema: SchemaVersionCreatedEvent = {
  type: 'schema_version_created',
  ts: TS,
  server: 'weather',
  method: 'tools/list',
  version: 3,
  versionId: '0123456789abcdef',
  contentHash: '0123456789abcdef'.repeat(4),
  payload: { tools: [] },
  changes: { added: ['a', 'b'], removed: ['c'], modified: [] },
  role: 'server',
};

const all: ProxyEvent[] = [request, sessionStart, sessionEnd, heartbeat, schema];

function capture(): { stream: { write(chunk: string): boolean }; chunks: string[] } {
  const chunks: string[] = [];
  return {
    chunks,
    stream: {
      write(chunk: string) {
        chunks.push(chunk);
        return true;
      },
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createConsoleSink', () => {
  it('writes to the given stream and never to stdout', async () => {
    const stdout = vi.spyOn(process.stdout, 'write');
    const out = capture();
    const bus = new EventBus({
      sinks: [createConsoleSink({ stream: out.stream })],
      flushIntervalMs: 0,
    });
    for (const event of all) bus.emit(event);
    await bus.shutdown();
    expect(out.chunks.join('').split('\n').filter(Boolean)).toHaveLength(all.length);
    expect(stdout).not.toHaveBeenCalled();
  });

  it('writes to stderr by default', () => {
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    createConsoleSink().onEvent(request);
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]![0])).toContain('tools/call search');
    expect(stdout).not.toHaveBeenCalled();
  });

  it('formats a request as one readable line', () => {
    const out = capture();
    createConsoleSink({ stream: out.stream }).onEvent(request);
    expect(out.chunks).toEqual([
      '03:04:05 ← tools/call search  4.20ms  1.2KB→3.4KB  ok  claude-desktop\n',
    ]);
  });

  it('shows direction, target, error code, missing sizes and large sizes', () => {
    expect(
      formatPretty({
        ...request,
        role: 'client',
        tool: undefined,
        resourceUri: 'file:///a.txt',
        mcpMethod: 'resources/read',
        note: 'error',
        errorCode: '-32602',
        requestSize: 10,
        responseSize: undefined,
        clientName: undefined,
        latencyUs: 1_234_567,
      }),
    ).toBe('03:04:05 → resources/read file:///a.txt  1234.57ms  10B→?  error -32602');
    expect(
      formatPretty({
        ...request,
        tool: undefined,
        prompt: 'greet',
        mcpMethod: 'prompts/get',
        requestSize: undefined,
        responseSize: undefined,
      }),
    ).toBe('03:04:05 ← prompts/get greet  4.20ms  ok  claude-desktop');
    expect(
      formatPretty({
        ...request,
        tool: undefined,
        mcpMethod: 'notifications/initialized',
        note: 'notification',
        responseSize: 3 * 1024 * 1024,
      }),
    ).toBe(
      '03:04:05 ← notifications/initialized  4.20ms  1.2KB→3.0MB  notification  claude-desktop',
    );
  });

  it('formats every event type', () => {
    expect(formatPretty(sessionStart)).toBe(
      '03:04:05 session+ abcdef01  cursor-vscode 1.0.0 (cursor)  2025-06-18  streamable-http',
    );
    expect(formatPretty(sessionEnd)).toBe(
      '03:04:05 session- abcdef01  idle_timeout  12.3s  9 req  2 err',
    );
    expect(formatPretty(heartbeat)).toBe(
      '03:04:05 heartbeat weather  up 61s  40 req  3 err  2 sessions  1 in flight  5 dropped  loop p99 1.2ms  rss 50.0MB',
    );
    expect(formatPretty(schema)).toBe('03:04:05 schema tools/list v3 0123456789abcdef  +2 -1 ~0');
    const bare: SessionStartEvent = {
      type: 'session_start',
      sessionId: 'short',
      server: 's',
      ts: TS,
      clientPlatform: 'unknown',
      transport: 'in-memory',
      role: 'client',
    };
    expect(formatPretty(bare)).toMatch(/^03:04:05 session\+ short +\? +\(unknown\) +in-memory$/);
  });

  it('json format writes one parseable line per event, one write per batch', () => {
    const out = capture();
    const sink = createConsoleSink({ format: 'json', stream: out.stream });
    sink.onBatch!(all);
    expect(out.chunks).toHaveLength(1);
    const lines = out.chunks[0]!.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(all);
  });

  it('leaves heartbeats out when asked', () => {
    const out = capture();
    const sink = createConsoleSink({ stream: out.stream, heartbeats: false, name: 'quiet' });
    expect(sink.name).toBe('quiet');
    sink.onEvent(heartbeat);
    expect(out.chunks).toEqual([]);
    sink.onBatch!([heartbeat, sessionEnd, heartbeat]);
    expect(out.chunks).toHaveLength(1);
    expect(out.chunks[0]).not.toContain('heartbeat');
    expect(out.chunks[0]).toContain('session-');
  });

  it('throws a TypeError at creation for an unknown format', () => {
    expect(() => createConsoleSink({ format: 'xml' as 'json' })).toThrow(TypeError);
    expect(() => createConsoleSink({ format: 'xml' as 'json' })).toThrow(/format/);
  });
});
