/**
 * mcp-otel: observability for MCP servers and clients. Public API; everything exported here
 * is a promise to users (test/unit/exports.test.ts pins the list).
 */
export { instrument, instrumentTransport } from './instrument.js';
export type { Instrumentable } from './instrument.js';
export type { TransportLike } from './transport/instrument-transport.js';
export {
  EventBus,
  flush,
  shutdown,
  DEFAULT_MAX_QUEUE_SIZE,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
} from './event-bus.js';
export type { EventSink, EventBusOptions } from './event-bus.js';
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_SESSION_IDLE_TIMEOUT_MS,
  DEFAULT_PENDING_REQUEST_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_REQUESTS,
} from './options.js';
export type { InstrumentOptions } from './options.js';
export { createConsoleSink, formatPretty } from './sinks/console-sink.js';
export type { ConsoleSinkOptions } from './sinks/console-sink.js';
export { createJsonlSink } from './sinks/jsonl-sink.js';
export type { JsonlSinkOptions } from './sinks/jsonl-sink.js';
export { createMemorySink, DEFAULT_MEMORY_SINK_MAX_EVENTS } from './sinks/memory-sink.js';
export type { MemorySink, MemorySinkOptions } from './sinks/memory-sink.js';
// Through the loader: importing mcp-otel must not load OpenTelemetry (issue 8).
export { createOtelSink } from './sinks/otel/otel-sink-loader.js';
export {
  DEFAULT_MAX_CONTENT_BYTES,
  DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES,
  DEFAULT_MAX_DISTINCT_NAMES,
  DEFAULT_MAX_NAME_LENGTH,
} from './sinks/otel/defaults.js';
export type { OtelSink, OtelSinkOptions, SpanToken } from './sinks/otel/otel-sink.js';
export type { RedactHook, RedactContext } from './sinks/otel/content.js';
export { DEFAULT_REDACTED_KEYS } from './sinks/otel/content.js';
export type { BatchProcessorOptions } from './sinks/otel/batch-processor.js';
export { clientPlatform } from './session/client-platform.js';
export { setDiagnosticLogger } from './diagnostics.js';
export type { DiagnosticLogger } from './diagnostics.js';
export type {
  LiveHooks,
  RequestStart,
  RequestEndDetail,
  HttpFacts,
  ServerPeer,
} from './live-hooks.js';
export type {
  ProxyEvent,
  ProxyEventType,
  RequestEvent,
  SessionStartEvent,
  SessionEndEvent,
  HeartbeatEvent,
  SchemaVersionCreatedEvent,
  SchemaChanges,
  SchemaMethod,
  RequestRole,
  RequestNote,
  TransportKind,
  SessionEndReason,
  ClientPlatform,
} from './events.js';
