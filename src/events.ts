/**
 * The event model: facts the transport middleware observes, one discriminated union keyed by
 * `type`. Every field is JSON-serialisable so a sink can write an event as it is (JSONL, HTTP).
 *
 * Ported from the seed proxy's `ProxyEvent` with its gaps closed: `isError` results are
 * captured (`tool_error`), request counts are really counted, and schema versions only change
 * when the contract changes. Field-by-field documentation: docs/events.md.
 */

/** Which side of the exchange produced a {@link RequestEvent}. */
export type RequestRole =
  /** We received the request (or notification) and answered it. */
  | 'server'
  /** We sent the request (or notification) and received the answer. */
  | 'client';

/** The transport a message travelled over. */
export type TransportKind =
  'stdio' | 'streamable-http' | 'sse' | 'in-memory' | 'websocket' | 'custom';

/** How a request ended. */
export type RequestNote =
  /** A result response. */
  | 'ok'
  /** A JSON-RPC error response. */
  | 'error'
  /** A `tools/call` result with `isError: true`: the tool failed, the protocol did not. */
  | 'tool_error'
  /** A `notifications/cancelled` for the request was seen before any response. */
  | 'cancelled'
  /** The transport closed before a response. */
  | 'closed'
  /** No response within the pending-request TTL. */
  | 'timeout'
  /** A one-way message: no response is expected. */
  | 'notification'
  /** The CLI proxy could not reach its upstream. */
  | 'upstream_error';

/** Why a session ended. */
export type SessionEndReason = 'closed' | 'deleted' | 'idle_timeout' | 'shutdown';

/** Normalised client platform; see docs/events.md for the matching rules. */
export type ClientPlatform =
  | 'claude'
  | 'cursor'
  | 'chatgpt'
  | 'vscode'
  | 'windsurf'
  | 'zed'
  | 'cline'
  | 'continue'
  | 'goose'
  | 'gemini'
  | 'mcp-inspector'
  | 'unknown';

/** The list methods whose results the schema tracker versions. */
export type SchemaMethod =
  'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

/** One request or notification, from start to its end. */
export interface RequestEvent {
  readonly type: 'request';
  /** Random UUIDv4 of this event. */
  readonly id: string;
  /** Unix time in milliseconds when the request started (was sent or received). */
  readonly ts: number;
  /** Server name: `InstrumentOptions.serverName`, else `serverInfo.name` from initialize. */
  readonly server: string;
  /** The session the request belongs to; absent for stateless HTTP and session-less eras. */
  readonly sessionId?: string;
  /** `server`: we received the request; `client`: we sent it. */
  readonly role: RequestRole;
  readonly transport: TransportKind;
  /** HTTP method of the request that carried the message, when over HTTP. */
  readonly httpMethod?: string;
  /** URL path of the request that carried the message, when over HTTP. */
  readonly path?: string;
  /** HTTP status of the response that carried the answer, when known. */
  readonly httpStatus?: number;
  /** Remote address of the HTTP peer, when known. */
  readonly clientAddress?: string;
  /** Remote port of the HTTP peer, when known. */
  readonly clientPort?: number;
  /** JSON-RPC method, e.g. `tools/call`. */
  readonly mcpMethod: string;
  /** JSON-RPC id as a string; absent for notifications and null ids. */
  readonly jsonrpcId?: string;
  /** `params.name` of a `tools/call`. */
  readonly tool?: string;
  /** `params.name` of a `prompts/get`. */
  readonly prompt?: string;
  /** `params.uri` of `resources/read`, `resources/subscribe` and `resources/unsubscribe`. */
  readonly resourceUri?: string;
  /** Microseconds from start to the response (or to the end named by `note`). */
  readonly latencyUs: number;
  /** Time to the upstream's response headers or first event, CLI proxy only. */
  readonly upstreamUs?: number;
  /** UTF-8 byte length of the serialised request. */
  readonly requestSize?: number;
  /** UTF-8 byte length of the serialised response. */
  readonly responseSize?: number;
  /** JSON-RPC error code as a string, for `note: 'error'`. */
  readonly errorCode?: string;
  /** Error message, at most 512 characters: the JSON-RPC error message or the tool's error text. */
  readonly errorMsg?: string;
  readonly clientName?: string;
  readonly clientVersion?: string;
  readonly clientPlatform?: ClientPlatform;
  /** Negotiated (or per-request) MCP protocol version. */
  readonly protocolVersion?: string;
  readonly note: RequestNote;
}

/** A session began: a successful `initialize`. */
export interface SessionStartEvent {
  readonly type: 'session_start';
  readonly sessionId: string;
  readonly server: string;
  /** Unix time in milliseconds. */
  readonly ts: number;
  readonly clientName?: string;
  readonly clientVersion?: string;
  readonly clientPlatform: ClientPlatform;
  readonly protocolVersion?: string;
  readonly transport: TransportKind;
  /** `serverInfo.name` from the initialize result. */
  readonly serverName?: string;
  /** `serverInfo.version` from the initialize result. */
  readonly serverVersion?: string;
  /** Which side of the session we are on. */
  readonly role: RequestRole;
}

/** A session ended. */
export interface SessionEndEvent {
  readonly type: 'session_end';
  readonly sessionId: string;
  readonly server: string;
  /** Unix time in milliseconds. */
  readonly ts: number;
  readonly durationMs: number;
  /** Requests (not notifications) seen in the session, both directions. */
  readonly requestCount: number;
  /** Of those, the ones that ended other than `ok`. */
  readonly errorCount: number;
  readonly reason: SessionEndReason;
  readonly transport: TransportKind;
  /** Which side of the session we are on. */
  readonly role: RequestRole;
}

/** Periodic health counters of one instrumentation. */
export interface HeartbeatEvent {
  readonly type: 'heartbeat';
  /** Unix time in milliseconds. */
  readonly ts: number;
  readonly server: string;
  readonly uptimeSecs: number;
  /** Requests completed since start, both directions (notifications excluded). */
  readonly requestCount: number;
  /** Of those, the ones that ended other than `ok`. */
  readonly errorCount: number;
  readonly activeSessions: number;
  readonly inFlightRequests: number;
  /** Events the bus dropped since start because its queue was full. */
  readonly droppedEvents: number;
  /** p99 event-loop delay over the last interval, milliseconds. */
  readonly eventLoopDelayMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

/** What changed between two schema versions, by item name (uri / uriTemplate for resources). */
export interface SchemaChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly modified: readonly string[];
}

/** A list result whose contract differs from the last one seen for this server and method. */
export interface SchemaVersionCreatedEvent {
  readonly type: 'schema_version_created';
  /** Unix time in milliseconds. */
  readonly ts: number;
  readonly server: string;
  /** The session whose list result produced this version, when there is one. */
  readonly sessionId?: string;
  readonly method: SchemaMethod;
  /** Monotonic per (server, method), from 1. */
  readonly version: number;
  /** First 16 hex characters of `contentHash`. */
  readonly versionId: string;
  /** SHA-256 hex of the canonical JSON of the contract fields. */
  readonly contentHash: string;
  /** The merged result after pagination: `{ tools: [...] }` etc. */
  readonly payload: Readonly<Record<string, unknown>>;
  /** Empty on version 1. */
  readonly changes: SchemaChanges;
  /** JSON-RPC id of the (last page's) list request that produced it. */
  readonly jsonrpcId?: string;
  /** `server`: we answered the list; `client`: we received it. */
  readonly role: RequestRole;
}

/** Every event the middleware produces. */
export type ProxyEvent =
  RequestEvent | SessionStartEvent | SessionEndEvent | HeartbeatEvent | SchemaVersionCreatedEvent;

/** The `type` literals of {@link ProxyEvent}. */
export type ProxyEventType = ProxyEvent['type'];
