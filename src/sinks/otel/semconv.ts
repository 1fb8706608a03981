/**
 * Every name mcp-otel puts on the wire, in one place. Spec names follow the OpenTelemetry
 * semantic conventions for MCP (semantic-conventions-genai docs/gen-ai/mcp.md and
 * model/mcp/*.yaml, status Development); our own additions are marked and documented in
 * docs/semantic-conventions.md.
 */

// Span and metric attributes defined by the MCP conventions.
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name';
export const ATTR_MCP_SESSION_ID = 'mcp.session.id';
export const ATTR_MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
export const ATTR_MCP_RESOURCE_URI = 'mcp.resource.uri';
export const ATTR_JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
export const ATTR_JSONRPC_PROTOCOL_VERSION = 'jsonrpc.protocol.version';
export const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';
export const ATTR_GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name';
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_CLIENT_PORT = 'client.port';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_SERVICE_VERSION = 'service.version';

export const GEN_AI_OPERATION_EXECUTE_TOOL = 'execute_tool';

// error.type values. JSON-RPC errors use the code itself ("-32603").
export const ERROR_TYPE_TOOL_ERROR = 'tool_error';
export const ERROR_TYPE_OTHER = '_OTHER';
/** Our values for ends the conventions leave to "the general error.type guidance". */
export const ERROR_TYPE_CANCELLED = 'cancelled';
export const ERROR_TYPE_CLOSED = 'closed';
export const ERROR_TYPE_TIMEOUT = 'timeout';

/**
 * Codes a server SHOULD NOT count as its own error: the caller sent something it could not
 * serve (model/mcp/spans.yaml, mcp.server.status.attributes, after semantic-conventions-genai
 * PR #404). A client counts every code.
 */
export const SERVER_NON_ERROR_CODES: ReadonlySet<string> = new Set([
  '-32700',
  '-32600',
  '-32601',
  '-32602',
  '-32002',
]);

// Metrics (all histograms in seconds with the spec's buckets).
export const METRIC_MCP_CLIENT_OPERATION_DURATION = 'mcp.client.operation.duration';
export const METRIC_MCP_SERVER_OPERATION_DURATION = 'mcp.server.operation.duration';
export const METRIC_MCP_CLIENT_SESSION_DURATION = 'mcp.client.session.duration';
export const METRIC_MCP_SERVER_SESSION_DURATION = 'mcp.server.session.duration';
export const DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
];

// Our additions: resource attributes describing the session's peer, on every span of a session
// (docs/semantic-conventions.md). `mcp.` because the spec could plausibly adopt them.
export const ATTR_MCP_CLIENT_NAME = 'mcp.client.name';
export const ATTR_MCP_CLIENT_VERSION = 'mcp.client.version';
export const ATTR_MCP_CLIENT_PLATFORM = 'mcp.client.platform';

// Our additions: schema versions as span events, progress as span events.
export const EVENT_MCP_SCHEMA_VERSION_CREATED = 'mcp.schema.version_created';
export const ATTR_MCP_SCHEMA_METHOD = 'mcp.schema.method';
export const ATTR_MCP_SCHEMA_VERSION = 'mcp.schema.version';
export const ATTR_MCP_SCHEMA_VERSION_ID = 'mcp.schema.version_id';
export const ATTR_MCP_SCHEMA_CONTENT_HASH = 'mcp.schema.content_hash';
export const ATTR_MCP_SCHEMA_ADDED = 'mcp.schema.added';
export const ATTR_MCP_SCHEMA_REMOVED = 'mcp.schema.removed';
export const ATTR_MCP_SCHEMA_MODIFIED = 'mcp.schema.modified';
export const ATTR_MCP_SCHEMA_PAYLOAD = 'mcp.schema.payload';
export const EVENT_MCP_PROGRESS = 'mcp.progress';
export const ATTR_MCP_PROGRESS = 'mcp.progress.progress';
export const ATTR_MCP_PROGRESS_TOTAL = 'mcp.progress.total';
export const ATTR_MCP_PROGRESS_MESSAGE = 'mcp.progress.message';

// Our additions: health gauges from heartbeats (project prefix: not MCP concepts).
export const METRIC_ACTIVE_SESSIONS = 'mcp_otel.sessions.active';
export const METRIC_IN_FLIGHT_REQUESTS = 'mcp_otel.requests.in_flight';
export const METRIC_DROPPED_EVENTS = 'mcp_otel.events.dropped';
export const METRIC_DROPPED_SPANS = 'mcp_otel.spans.dropped';
export const METRIC_EVENT_LOOP_DELAY = 'mcp_otel.event_loop.delay';

/** `_meta` keys SEP-414 reserves for W3C trace context; the only keys we ever write. */
export const META_TRACE_KEYS: readonly string[] = ['traceparent', 'tracestate', 'baggage'];

/** Instrumentation scope. */
export const INSTRUMENTATION_NAME = 'mcp-otel';
