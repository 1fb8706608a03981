import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

/**
 * The public API is a promise to users: this list changes only on purpose. An accidental
 * export (or a lost one) fails here and shows up in review.
 */
describe('public API', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(api).sort()).toEqual([
      'DEFAULT_FLUSH_INTERVAL_MS',
      'DEFAULT_HEARTBEAT_INTERVAL_MS',
      'DEFAULT_MAX_BATCH_SIZE',
      'DEFAULT_MAX_CONTENT_BYTES',
      'DEFAULT_MAX_DISTINCT_NAMES',
      'DEFAULT_MAX_NAME_LENGTH',
      'DEFAULT_MAX_PENDING_REQUESTS',
      'DEFAULT_MAX_QUEUE_SIZE',
      'DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES',
      'DEFAULT_MEMORY_SINK_MAX_EVENTS',
      'DEFAULT_PENDING_REQUEST_TIMEOUT_MS',
      'DEFAULT_REDACTED_KEYS',
      'DEFAULT_SESSION_IDLE_TIMEOUT_MS',
      'DEFAULT_SHUTDOWN_TIMEOUT_MS',
      'EventBus',
      'clientPlatform',
      'createConsoleSink',
      'createJsonlSink',
      'createMemorySink',
      'createOtelSink',
      'flush',
      'formatPretty',
      'instrument',
      'instrumentTransport',
      'setDiagnosticLogger',
      'shutdown',
    ]);
  });

  it('exports exactly these types, with export type and no export *', () => {
    const source = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/export \*/);
    const types = [...source.matchAll(/export type \{([^}]*)\}/g)]
      .flatMap((m) => (m[1] ?? '').split(','))
      .map((name) => name.trim())
      .filter(Boolean)
      .sort();
    expect(types).toEqual(
      [
        'BatchProcessorOptions',
        'ClientPlatform',
        'ConsoleSinkOptions',
        'DiagnosticLogger',
        'EventBusOptions',
        'EventSink',
        'HeartbeatEvent',
        'HttpFacts',
        'InstrumentOptions',
        'Instrumentable',
        'JsonlSinkOptions',
        'LiveHooks',
        'MemorySink',
        'MemorySinkOptions',
        'OtelSink',
        'OtelSinkOptions',
        'ProxyEvent',
        'ProxyEventType',
        'RedactContext',
        'RedactHook',
        'RequestEndDetail',
        'RequestEvent',
        'RequestNote',
        'RequestRole',
        'RequestStart',
        'SchemaChanges',
        'SchemaMethod',
        'SchemaVersionCreatedEvent',
        'ServerPeer',
        'SessionEndEvent',
        'SessionEndReason',
        'SessionStartEvent',
        'SpanToken',
        'TransportKind',
        'TransportLike',
      ].sort(),
    );
  });
});
