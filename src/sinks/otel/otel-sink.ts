import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapSetter,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Histogram,
  type Link,
  type MeterProvider,
  type Span,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { EventSink } from '../../event-bus.js';
import type {
  HeartbeatEvent,
  ProxyEvent,
  RequestEvent,
  SchemaVersionCreatedEvent,
  SessionEndEvent,
  SessionStartEvent,
  TransportKind,
} from '../../events.js';
import type { LiveHooks, RequestStart, ServerPeer } from '../../live-hooks.js';
import { reportWarning } from '../../diagnostics.js';
import type { BatchProcessorOptions } from './batch-processor.js';
import { applyRedactHook, createContentSerializer, type RedactHook } from './content.js';
import { createPipeline, type SessionAttributes, type TracingPipeline } from './pipeline.js';
import * as sc from './semconv.js';

import {
  DEFAULT_MAX_CONTENT_BYTES,
  DEFAULT_MAX_DISTINCT_NAMES,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES,
} from './defaults.js';

export {
  DEFAULT_MAX_CONTENT_BYTES,
  DEFAULT_MAX_DISTINCT_NAMES,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES,
};

/** Options of {@link createOtelSink}. */
export interface OtelSinkOptions {
  /** Tracer provider to use; session attributes then go on spans (its pipeline is not ours to share). @default the app's global provider if registered, else our own pipeline from OTEL_* variables */
  tracerProvider?: TracerProvider;
  /** Meter provider for the spec's histograms and our gauges. @default the app's global provider, if registered */
  meterProvider?: MeterProvider;
  /** `service.name` of our own pipeline; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win. @default the server's name */
  serviceName?: string;
  /** `service.version` of our own pipeline. @default none */
  serviceVersion?: string;
  /** Record tool arguments and results (both directions' switches at once). @default false */
  captureContent?: boolean;
  /** Record `gen_ai.tool.call.arguments`. @default captureContent */
  captureArguments?: boolean;
  /** Record `gen_ai.tool.call.result`. @default captureContent */
  captureResults?: boolean;
  /** Largest content attribute, UTF-8 bytes; longer values are cut and marked. @default 8_192 */
  maxContentBytes?: number;
  /** Largest schema payload recorded on `mcp.schema.version_created` (content capture only). @default 65_536 */
  maxSchemaPayloadBytes?: number;
  /** Key names redacted in captured content, besides the built-in denylist. @default [] */
  redactKeys?: readonly string[];
  /** Last word on captured content; see docs/privacy.md. @default none */
  redact?: RedactHook;
  /** Put `mcp.resource.uri` in span names (high cardinality). @default false */
  resourceUriInSpanName?: boolean;
  /** Distinct tool/prompt names on metrics before new ones become `_OTHER`. @default 1_000 */
  maxDistinctNames?: number;
  /** Longest tool/prompt name recorded, characters. @default 256 */
  maxNameLength?: number;
  /** Export to this exporter through our own pipeline instead of the one OTEL_* variables pick. @default from the environment */
  spanExporter?: SpanExporter;
  /** Batching of our own pipeline; unset fields fall back to OTEL_BSP_* and then our defaults. */
  batch?: BatchProcessorOptions;
  /** Write trace context into outgoing messages' `params._meta` (SEP-414). @default true */
  propagate?: boolean;
}

/** The OTel sink: an EventSink with live hooks, plus what tests and heartbeats read. */
export interface OtelSink extends EventSink {
  readonly live: LiveHooks<SpanToken>;
  /** Spans our own pipeline dropped (queue full, export failed). */
  readonly droppedSpans: number;
  /** Sessions holding a tracer (released when the session ends). */
  readonly sessionTracers: number;
  /** Which pipeline is in use. */
  readonly pipelineKind: TracingPipeline['kind'];
  /**
   * Returns `message` with the active context's trace context in `params._meta` (a copy; the
   * same object when there is nothing to inject). For hosts that forward messages themselves.
   */
  injectActiveContext(
    message: Readonly<Record<string, unknown>>,
  ): Readonly<Record<string, unknown>>;
  /**
   * The `params._meta` members {@link injectActiveContext} would set on `message`, as
   * `[key, value]` pairs (only those it lacks or has with another value), or undefined when
   * there are none or the message has no place for them. For proxies that splice them into
   * the bytes they forward instead of copying the message.
   */
  activeContextMeta(
    message: Readonly<Record<string, unknown>>,
  ): readonly (readonly [string, string])[] | undefined;
}

/** What the sink keeps per live span. */
export interface SpanToken {
  readonly span: Span;
  readonly context: Context;
  readonly role: 'server' | 'client';
  readonly tool: string | undefined;
  readonly mcpMethod: string;
  hasSession: boolean;
  hasProtocolVersion: boolean;
  /** Client side: where the server is (server.address / server.port on metrics too). */
  readonly serverPeer: ServerPeer | undefined;
}

const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = Object.hasOwn(carrier, key) ? carrier[key] : undefined;
    return typeof value === 'string' ? value : undefined;
  },
};

/** Reads traceparent/tracestate/baggage from v1 header records and web `Headers` alike. */
const headerGetter: TextMapGetter<unknown> = {
  keys: () => [],
  get: (carrier, key) => {
    if (carrier === null || typeof carrier !== 'object') return undefined;
    const get = (carrier as { get?: unknown }).get;
    if (typeof get === 'function') {
      const value: unknown = get.call(carrier, key);
      return typeof value === 'string' ? value : undefined;
    }
    const value = (carrier as Record<string, unknown>)[key];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
    return undefined;
  },
};

/**
 * Creates the OpenTelemetry sink: spec-exact spans (active while handlers run, trace context
 * in `_meta` both ways), the spec's duration histograms, sessions as Resources, schema versions
 * as span events. `instrument()` creates one for you when you pass no sinks.
 *
 * @example
 * const otel = createOtelSink({ captureContent: true });
 * instrument(server, { sinks: [otel, createConsoleSink()] });
 */
export function createOtelSink(options: OtelSinkOptions = {}): OtelSink {
  const pipeline = createPipeline({
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    spanExporter: options.spanExporter,
    batch: options.batch,
  });
  const captureArguments = options.captureArguments ?? options.captureContent ?? false;
  const captureResults = options.captureResults ?? options.captureContent ?? false;
  const captureSchema = options.captureContent ?? false;
  const maxContent = positive(
    options.maxContentBytes,
    DEFAULT_MAX_CONTENT_BYTES,
    'maxContentBytes',
  );
  const serialise = createContentSerializer(options.redactKeys ?? [], maxContent);
  const serialisePayload = createContentSerializer(
    options.redactKeys ?? [],
    positive(
      options.maxSchemaPayloadBytes,
      DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES,
      'maxSchemaPayloadBytes',
    ),
  );
  const maxDistinct = positive(
    options.maxDistinctNames,
    DEFAULT_MAX_DISTINCT_NAMES,
    'maxDistinctNames',
  );
  const maxLength = positive(options.maxNameLength, DEFAULT_MAX_NAME_LENGTH, 'maxNameLength');
  const names = new NameLimiter(maxDistinct, maxLength);
  // Other values a peer chooses that reach metric attributes, each with its own budget.
  const wire: WireLimiters = {
    methods: new NameLimiter(maxDistinct, maxLength),
    codes: new NameLimiter(maxDistinct, maxLength),
    versions: new NameLimiter(maxDistinct, maxLength),
  };
  const clip = (value: string): string => names.clip(value);
  const serviceNameFixed = hasEnvServiceName() || options.serviceName !== undefined;
  const metrics = createMetrics(pipeline, () => latestHeartbeat);
  let latestHeartbeat: HeartbeatEvent | undefined;

  const sessionAttributes = (info: RequestStart): SessionAttributes | undefined => {
    if (info.sessionId === undefined) return undefined;
    const attributes: Record<string, string> = { [sc.ATTR_MCP_SESSION_ID]: info.sessionId };
    if (info.clientName !== undefined) attributes[sc.ATTR_MCP_CLIENT_NAME] = info.clientName;
    if (info.clientVersion !== undefined)
      attributes[sc.ATTR_MCP_CLIENT_VERSION] = info.clientVersion;
    if (info.clientPlatform !== undefined)
      attributes[sc.ATTR_MCP_CLIENT_PLATFORM] = info.clientPlatform;
    if (info.protocolVersion !== undefined)
      attributes[sc.ATTR_MCP_PROTOCOL_VERSION] = clip(info.protocolVersion);
    if (!serviceNameFixed && info.server !== 'unknown')
      attributes[sc.ATTR_SERVICE_NAME] = info.server;
    return attributes;
  };

  /**
   * The last session's attributes and tracer. Consecutive requests of one session, the common
   * case, reuse both instead of building the attributes and having the pipeline compare them
   * with its own on every request; anything that would change them misses. Dropped when that
   * session ends, as the pipeline then releases its tracer.
   */
  type SessionKey = Pick<
    RequestStart,
    'sessionId' | 'clientName' | 'clientVersion' | 'clientPlatform' | 'protocolVersion' | 'server'
  >;
  type SessionEntry = {
    readonly key: SessionKey;
    readonly attributes: SessionAttributes;
    readonly tracer: Tracer;
  };
  // One per role: a process that is both client and server on one sink (an agent's client and
  // a server in it, or a proxy) alternates between two sessions request by request.
  const lastSession: { server: SessionEntry | undefined; client: SessionEntry | undefined } = {
    server: undefined,
    client: undefined,
  };
  const sameSession = (a: SessionKey, b: RequestStart): boolean =>
    a.sessionId === b.sessionId &&
    a.clientName === b.clientName &&
    a.clientVersion === b.clientVersion &&
    a.clientPlatform === b.clientPlatform &&
    a.protocolVersion === b.protocolVersion &&
    a.server === b.server;

  const live: LiveHooks<SpanToken> = {
    start(info) {
      const server = info.role === 'server';
      const tool = info.tool === undefined ? undefined : names.clip(info.tool);
      const prompt = info.prompt === undefined ? undefined : names.clip(info.prompt);
      const target =
        tool ?? prompt ?? (options.resourceUriInSpanName === true ? info.resourceUri : undefined);
      const method = clip(info.mcpMethod);
      const name = target === undefined ? method : `${method} ${target}`;
      const attributes: Attributes = { [sc.ATTR_MCP_METHOD_NAME]: method };
      if (info.jsonrpcId !== undefined) attributes[sc.ATTR_JSONRPC_REQUEST_ID] = info.jsonrpcId;
      if (tool !== undefined) {
        attributes[sc.ATTR_GEN_AI_TOOL_NAME] = tool;
        attributes[sc.ATTR_GEN_AI_OPERATION_NAME] = sc.GEN_AI_OPERATION_EXECUTE_TOOL;
      }
      if (prompt !== undefined) attributes[sc.ATTR_GEN_AI_PROMPT_NAME] = prompt;
      if (info.resourceUri !== undefined) attributes[sc.ATTR_MCP_RESOURCE_URI] = info.resourceUri;
      if (info.protocolVersion !== undefined)
        attributes[sc.ATTR_MCP_PROTOCOL_VERSION] = clip(info.protocolVersion);
      if (info.sessionId !== undefined && !isSessionlessEra(info.protocolVersion)) {
        attributes[sc.ATTR_MCP_SESSION_ID] = info.sessionId;
      }
      networkAttributes(attributes, info.transport, info.http?.protocolVersion);
      if (!server && info.serverPeer !== undefined) {
        attributes[sc.ATTR_SERVER_ADDRESS] = info.serverPeer.address;
        attributes[sc.ATTR_SERVER_PORT] = info.serverPeer.port;
      }
      if (server && info.http?.clientAddress !== undefined) {
        attributes[sc.ATTR_CLIENT_ADDRESS] = info.http.clientAddress;
        if (info.http.clientPort !== undefined)
          attributes[sc.ATTR_CLIENT_PORT] = info.http.clientPort;
      }
      const last = lastSession[info.role];
      const cached = last !== undefined && sameSession(last.key, info) ? last : undefined;
      const session = cached ? cached.attributes : sessionAttributes(info);
      if (!pipeline.sessionResources && session) {
        for (const [key, value] of Object.entries(session)) {
          if (key !== sc.ATTR_SERVICE_NAME) attributes[key] ??= value;
        }
      }
      if (captureArguments && info.mcpMethod === 'tools/call') {
        const params = info.message.params as Record<string, unknown> | undefined;
        addContent(
          attributes,
          sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
          params?.arguments,
          'arguments',
          info.role,
          info.mcpMethod,
          tool,
        );
      }

      let parent: Context;
      let links: Link[] | undefined;
      const ambient = context.active();
      if (server) {
        const fromMeta = extractFromMeta(pipeline, info.message);
        if (fromMeta && hasValidSpan(fromMeta)) {
          parent = fromMeta;
          // The transport's own span (e.g. the HTTP server span) is linked, not the parent:
          // one MCP request can span several HTTP requests and the reverse (spec, mcp.md).
          // In memory, the message is delivered on the sender's stack: what is active there is
          // the sender's context, already the parent's ancestor, not a transport span.
          const transportSpan =
            info.transport === 'in-memory' ? undefined : trace.getSpanContext(ambient);
          if (transportSpan && trace.isSpanContextValid(transportSpan))
            links = [{ context: transportSpan }];
        } else {
          // Some clients send trace context only as HTTP headers.
          const fromHeaders = extractFromHeaders(pipeline, info.http?.headers);
          parent = fromHeaders && hasValidSpan(fromHeaders) ? fromHeaders : ambient;
          // Baggage without a traceparent (in _meta, else in the headers) still reaches the handler.
          const baggage =
            (fromMeta && propagation.getBaggage(fromMeta)) ??
            (fromHeaders && propagation.getBaggage(fromHeaders));
          if (baggage) parent = propagation.setBaggage(parent, baggage);
        }
      } else {
        parent = ambient;
      }
      let tracer: Tracer;
      if (cached) {
        tracer = cached.tracer;
      } else {
        tracer = pipeline.tracer(info.sessionId, session);
        // The key holds only what is compared, not the message.
        const key: SessionKey = {
          sessionId: info.sessionId,
          clientName: info.clientName,
          clientVersion: info.clientVersion,
          clientPlatform: info.clientPlatform,
          protocolVersion: info.protocolVersion,
          server: info.server,
        };
        lastSession[info.role] = session ? { key, attributes: session, tracer } : undefined;
      }
      const span = tracer.startSpan(
        name,
        { kind: server ? SpanKind.SERVER : SpanKind.CLIENT, attributes, links },
        parent,
      );
      return {
        span,
        context: trace.setSpan(parent, span),
        role: info.role,
        tool,
        mcpMethod: info.mcpMethod,
        hasSession: info.sessionId !== undefined,
        hasProtocolVersion: info.protocolVersion !== undefined,
        serverPeer: server ? undefined : info.serverPeer,
      };
    },

    run(token, fn) {
      return context.with(token.context, fn);
    },

    inject(token, message) {
      return injectInto(token.context, message);
    },

    progress(token, params) {
      const attributes: Attributes = {};
      if (typeof params.progress === 'number') attributes[sc.ATTR_MCP_PROGRESS] = params.progress;
      if (typeof params.total === 'number') attributes[sc.ATTR_MCP_PROGRESS_TOTAL] = params.total;
      if (typeof params.message === 'string')
        attributes[sc.ATTR_MCP_PROGRESS_MESSAGE] = params.message;
      token.span.addEvent(sc.EVENT_MCP_PROGRESS, attributes);
    },

    end(token, event, detail) {
      const span = token.span;
      if (
        !token.hasSession &&
        event.sessionId !== undefined &&
        !isSessionlessEra(event.protocolVersion)
      ) {
        span.setAttribute(sc.ATTR_MCP_SESSION_ID, event.sessionId);
      }
      // initialize starts with the version the client asked for; the one used is the answer's.
      const result = isRecord(detail.response?.result) ? detail.response.result : undefined;
      const negotiated =
        token.mcpMethod === 'initialize' && typeof result?.protocolVersion === 'string'
          ? result.protocolVersion
          : undefined;
      if (negotiated !== undefined) {
        span.setAttribute(sc.ATTR_MCP_PROTOCOL_VERSION, clip(negotiated));
      } else if (!token.hasProtocolVersion && event.protocolVersion !== undefined) {
        span.setAttribute(sc.ATTR_MCP_PROTOCOL_VERSION, clip(event.protocolVersion));
      }
      const errorType = classify(event, span, clip);
      if (
        captureResults &&
        event.note === 'ok' &&
        token.mcpMethod === 'tools/call' &&
        detail.response
      ) {
        const attributes: Attributes = {};
        addContent(
          attributes,
          sc.ATTR_GEN_AI_TOOL_CALL_RESULT,
          detail.response.result,
          'result',
          token.role,
          token.mcpMethod,
          token.tool,
        );
        span.setAttributes(attributes);
      }
      if (detail.schema)
        span.addEvent(sc.EVENT_MCP_SCHEMA_VERSION_CREATED, schemaAttributes(detail.schema));
      span.end();
      metrics.operation(event, errorType, names, wire, token.serverPeer);
    },
  };

  /**
   * What the propagators write for `ctx`, when `message` has a place for it: positional params
   * (an array) or a `_meta` that is not an object have none, and the message goes out as the
   * app wrote it.
   */
  function carrierFor(
    ctx: Context,
    message: Readonly<Record<string, unknown>>,
  ): Record<string, string> | undefined {
    const params = message.params;
    if (params !== undefined && !isRecord(params)) return undefined;
    const meta = params?._meta;
    if (meta !== undefined && !isRecord(meta)) return undefined;
    const carrier: Record<string, string> = {};
    pipeline.propagator.inject(ctx, carrier, defaultTextMapSetter);
    return carrier;
  }

  /** The `_meta` members the trace context of `ctx` sets on `message`; see activeContextMeta. */
  function metaChanges(
    ctx: Context,
    message: Readonly<Record<string, unknown>>,
  ): [string, string][] | undefined {
    const carrier = carrierFor(ctx, message);
    if (carrier === undefined) return undefined;
    const meta = metaOf(message);
    let changes: [string, string][] | undefined;
    for (const key in carrier) {
      const value = carrier[key] as string;
      if (writes(meta, key, value)) (changes ??= []).push([key, value]);
    }
    return changes;
  }

  function injectInto(
    ctx: Context,
    message: Readonly<Record<string, unknown>>,
  ): Readonly<Record<string, unknown>> {
    const carrier = carrierFor(ctx, message);
    if (carrier === undefined) return message;
    const meta = metaOf(message);
    let copy: Record<string, unknown> | undefined;
    for (const key in carrier) {
      const value = carrier[key] as string;
      if (writes(meta, key, value)) (copy ??= { ...meta })[key] = value;
    }
    if (copy === undefined) return message;
    return { ...message, params: { ...(message.params as object | undefined), _meta: copy } };
  }

  if (options.propagate === false) delete live.inject;

  function addContent(
    attributes: Attributes,
    key: string,
    value: unknown,
    kind: 'arguments' | 'result',
    role: 'server' | 'client',
    mcpMethod: string,
    tool: string | undefined,
  ): void {
    const text = serialise(value);
    if (text === undefined) return;
    const out = applyRedactHook(options.redact, { [key]: text }, { kind, mcpMethod, tool, role });
    Object.assign(attributes, out);
  }

  function schemaAttributes(schema: SchemaVersionCreatedEvent): Attributes {
    const attributes: Attributes = {
      [sc.ATTR_MCP_SCHEMA_METHOD]: schema.method,
      [sc.ATTR_MCP_SCHEMA_VERSION]: schema.version,
      [sc.ATTR_MCP_SCHEMA_VERSION_ID]: schema.versionId,
      [sc.ATTR_MCP_SCHEMA_CONTENT_HASH]: schema.contentHash,
      [sc.ATTR_MCP_SCHEMA_ADDED]: [...schema.changes.added],
      [sc.ATTR_MCP_SCHEMA_REMOVED]: [...schema.changes.removed],
      [sc.ATTR_MCP_SCHEMA_MODIFIED]: [...schema.changes.modified],
    };
    if (captureSchema) {
      const text = serialisePayload(schema.payload);
      if (text !== undefined) {
        const out = applyRedactHook(
          options.redact,
          { [sc.ATTR_MCP_SCHEMA_PAYLOAD]: text },
          { kind: 'payload', mcpMethod: schema.method, tool: undefined, role: schema.role },
        );
        Object.assign(attributes, out);
      }
    }
    return attributes;
  }

  const onEvent = (event: ProxyEvent): void => {
    switch (event.type) {
      case 'session_start':
        metrics.sessionStarted(event);
        return;
      case 'session_end':
        pipeline.release(event.sessionId);
        for (const role of ['server', 'client'] as const) {
          if (lastSession[role]?.key.sessionId === event.sessionId) lastSession[role] = undefined;
        }
        metrics.session(event);
        return;
      case 'heartbeat':
        latestHeartbeat = event;
        return;
      case 'request':
      case 'schema_version_created':
        return;
      default:
        event satisfies never;
    }
  };

  return {
    name: 'otel',
    live,
    // Spans and the duration histograms come from the live hooks; request and schema events
    // would only be queued to be ignored.
    eventTypes: ['session_start', 'session_end', 'heartbeat'],
    onEvent,
    onBatch(events) {
      for (const event of events) onEvent(event);
    },
    flush: () => pipeline.flush(),
    shutdown: () => pipeline.shutdown(),
    get droppedSpans() {
      return pipeline.droppedSpans;
    },
    get sessionTracers() {
      return pipeline.sessionTracers;
    },
    get pipelineKind() {
      return pipeline.kind;
    },
    injectActiveContext(message) {
      return options.propagate === false ? message : injectInto(context.active(), message);
    },
    activeContextMeta(message) {
      return options.propagate === false ? undefined : metaChanges(context.active(), message);
    },
  };
}

/** `params._meta` of a message, when both are objects. */
function metaOf(message: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const params = message.params;
  return isRecord(params) && isRecord(params._meta) ? params._meta : undefined;
}

/**
 * Whether trace context writes `key` into `meta`: the W3C keys are ours to write (SEP-414) and
 * are set unless they already hold `value`; any other key the app set stays as it was.
 */
function writes(meta: Record<string, unknown> | undefined, key: string, value: string): boolean {
  if (meta === undefined || !Object.hasOwn(meta, key)) return true;
  return meta[key] !== value && sc.META_TRACE_KEYS.includes(key);
}

/** Sets error.type, rpc.response.status_code and the span status; returns error.type. */
function classify(
  event: RequestEvent,
  span: Span,
  clip: (value: string) => string,
): string | undefined {
  switch (event.note) {
    case 'ok':
    case 'notification':
      return undefined;
    case 'error': {
      const code = event.errorCode === undefined ? undefined : clip(event.errorCode);
      if (code !== undefined) span.setAttribute(sc.ATTR_RPC_RESPONSE_STATUS_CODE, code);
      // A server does not count the caller's mistakes as its own errors (spans.yaml, PR #404).
      if (event.role === 'server' && code !== undefined && sc.SERVER_NON_ERROR_CODES.has(code)) {
        return undefined;
      }
      const errorType = code ?? sc.ERROR_TYPE_OTHER;
      fail(span, errorType, event.errorMsg);
      return errorType;
    }
    case 'tool_error':
      fail(span, sc.ERROR_TYPE_TOOL_ERROR, event.errorMsg);
      return sc.ERROR_TYPE_TOOL_ERROR;
    case 'cancelled':
      fail(span, sc.ERROR_TYPE_CANCELLED, event.errorMsg);
      return sc.ERROR_TYPE_CANCELLED;
    case 'closed':
      fail(span, sc.ERROR_TYPE_CLOSED, 'transport closed before a response');
      return sc.ERROR_TYPE_CLOSED;
    case 'timeout':
      fail(span, sc.ERROR_TYPE_TIMEOUT, 'no response within the pending-request timeout');
      return sc.ERROR_TYPE_TIMEOUT;
    case 'upstream_error':
      fail(span, sc.ERROR_TYPE_OTHER, event.errorMsg);
      return sc.ERROR_TYPE_OTHER;
    default:
      return event.note satisfies never;
  }
}

function fail(span: Span, errorType: string, message: string | undefined): void {
  span.setAttribute(sc.ATTR_ERROR_TYPE, errorType);
  span.setStatus(
    message === undefined
      ? { code: SpanStatusCode.ERROR }
      : { code: SpanStatusCode.ERROR, message },
  );
}

/** network.* per the spec's transport table. */
function networkAttributes(
  attributes: Attributes,
  transport: TransportKind,
  httpVersion: string | undefined,
): void {
  switch (transport) {
    case 'stdio':
      attributes[sc.ATTR_NETWORK_TRANSPORT] = 'pipe';
      return;
    case 'streamable-http':
    case 'sse':
      attributes[sc.ATTR_NETWORK_TRANSPORT] = 'tcp';
      attributes[sc.ATTR_NETWORK_PROTOCOL_NAME] = 'http';
      if (httpVersion !== undefined) attributes[sc.ATTR_NETWORK_PROTOCOL_VERSION] = httpVersion;
      return;
    case 'websocket':
      attributes[sc.ATTR_NETWORK_TRANSPORT] = 'tcp';
      attributes[sc.ATTR_NETWORK_PROTOCOL_NAME] = 'websocket';
      return;
    case 'in-memory':
    case 'custom':
      return;
    default:
      transport satisfies never;
  }
}

/** MCP 2026-07-28 and later have no protocol sessions: mcp.session.id MUST NOT be set (registry.yaml). */
function isSessionlessEra(protocolVersion: string | undefined): boolean {
  return protocolVersion !== undefined && protocolVersion >= '2026-07-28';
}

/** What the propagators extract from `params._meta` (trace context, baggage), if it has one. */
function extractFromMeta(
  pipeline: TracingPipeline,
  message: Readonly<Record<string, unknown>>,
): Context | undefined {
  const params = message.params;
  if (!isRecord(params)) return undefined;
  const meta = params._meta;
  if (!isRecord(meta)) return undefined;
  return pipeline.propagator.extract(ROOT_CONTEXT, meta, metaGetter);
}

/** What the propagators extract from the HTTP request's headers, when it came over HTTP. */
function extractFromHeaders(pipeline: TracingPipeline, headers: unknown): Context | undefined {
  if (headers === undefined || headers === null) return undefined;
  return pipeline.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
}

function hasValidSpan(ctx: Context): boolean {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext !== undefined && trace.isSpanContextValid(spanContext);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasEnvServiceName(): boolean {
  if (process.env.OTEL_SERVICE_NAME) return true;
  return /(^|,)\s*service\.name\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (Number.isFinite(value) && value > 0) return Math.floor(value);
  reportWarning(
    `createOtelSink option ${name}=${String(value)} must be a positive number; using ${fallback}`,
  );
  return fallback;
}

/**
 * Caps the length of tool and prompt names, and the number of distinct ones on metrics: a
 * server with 100,000 generated tool names must not create 100,000 metric series.
 */
class NameLimiter {
  private readonly seen = new Set<string>();
  constructor(
    private readonly maxDistinct: number,
    private readonly maxLength: number,
  ) {}

  clip(name: string): string {
    return name.length > this.maxLength ? name.slice(0, this.maxLength) : name;
  }

  forMetric(name: string): string {
    const clipped = this.clip(name);
    if (this.seen.has(clipped)) return clipped;
    if (this.seen.size >= this.maxDistinct) return sc.ERROR_TYPE_OTHER;
    this.seen.add(clipped);
    return clipped;
  }
}

/** MCP's own methods (schema 2025-11-25): always kept; others go through a limiter. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'logging/setLevel',
  'completion/complete',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/roots/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
]);

/** Limiters of the other wire values that reach metric attributes. */
interface WireLimiters {
  readonly methods: NameLimiter;
  readonly codes: NameLimiter;
  readonly versions: NameLimiter;
}

interface SinkMetrics {
  operation(
    event: RequestEvent,
    errorType: string | undefined,
    names: NameLimiter,
    wire: WireLimiters,
    serverPeer: ServerPeer | undefined,
  ): void;
  sessionStarted(event: SessionStartEvent): void;
  session(event: SessionEndEvent): void;
}

const NO_METRICS: SinkMetrics = {
  operation: () => undefined,
  sessionStarted: () => undefined,
  session: () => undefined,
};

function createMetrics(
  pipeline: TracingPipeline,
  heartbeat: () => HeartbeatEvent | undefined,
): SinkMetrics {
  const provider = pipeline.meterProvider;
  if (!provider) return NO_METRICS;
  const meter = provider.getMeter(sc.INSTRUMENTATION_NAME);
  const histogram = (name: string, description: string): Histogram =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: [...sc.DURATION_BUCKETS] },
    });
  const clientOperation = histogram(
    sc.METRIC_MCP_CLIENT_OPERATION_DURATION,
    'Duration of an MCP request or notification as observed by its sender.',
  );
  const serverOperation = histogram(
    sc.METRIC_MCP_SERVER_OPERATION_DURATION,
    'Duration of an MCP request or notification as observed by its receiver.',
  );
  const clientSession = histogram(
    sc.METRIC_MCP_CLIENT_SESSION_DURATION,
    'Duration of an MCP session on the client.',
  );
  const serverSession = histogram(
    sc.METRIC_MCP_SERVER_SESSION_DURATION,
    'Duration of an MCP session on the server.',
  );

  const gauge = (
    name: string,
    description: string,
    unit: string,
    read: (h: HeartbeatEvent) => number,
  ): void => {
    meter.createObservableGauge(name, { description, unit }).addCallback((result) => {
      const beat = heartbeat();
      if (beat) result.observe(read(beat));
    });
  };
  gauge(sc.METRIC_ACTIVE_SESSIONS, 'Open MCP sessions.', '{session}', (h) => h.activeSessions);
  gauge(
    sc.METRIC_IN_FLIGHT_REQUESTS,
    'MCP requests awaiting a response.',
    '{request}',
    (h) => h.inFlightRequests,
  );
  gauge(
    sc.METRIC_DROPPED_EVENTS,
    'Events the mcp-otel bus dropped (queue full).',
    '{event}',
    (h) => h.droppedEvents,
  );
  gauge(
    sc.METRIC_EVENT_LOOP_DELAY,
    'p99 event-loop delay over the last heartbeat interval.',
    's',
    (h) => h.eventLoopDelayMs / 1000,
  );
  meter
    .createObservableGauge(sc.METRIC_DROPPED_SPANS, {
      description: 'Spans mcp-otel dropped before export.',
      unit: '{span}',
    })
    .addCallback((result) => result.observe(pipeline.droppedSpans));
  /** Protocol version of each open session, by `${role} ${sessionId}` (removed at its end). */
  const sessionVersions = new Map<string, string>();

  return {
    operation(event, errorType, names, wire, serverPeer) {
      const attributes: Attributes = {
        [sc.ATTR_MCP_METHOD_NAME]: KNOWN_METHODS.has(event.mcpMethod)
          ? event.mcpMethod
          : wire.methods.forMetric(event.mcpMethod),
      };
      if (serverPeer !== undefined) {
        attributes[sc.ATTR_SERVER_ADDRESS] = serverPeer.address;
        attributes[sc.ATTR_SERVER_PORT] = serverPeer.port;
      }
      // A peer's error code is a wire value; our own error types (tool_error, closed, ...) are few.
      if (errorType !== undefined)
        attributes[sc.ATTR_ERROR_TYPE] =
          event.note === 'error' && event.errorCode !== undefined
            ? wire.codes.forMetric(errorType)
            : errorType;
      if (event.tool !== undefined) {
        attributes[sc.ATTR_GEN_AI_TOOL_NAME] = names.forMetric(event.tool);
        attributes[sc.ATTR_GEN_AI_OPERATION_NAME] = sc.GEN_AI_OPERATION_EXECUTE_TOOL;
      }
      if (event.prompt !== undefined)
        attributes[sc.ATTR_GEN_AI_PROMPT_NAME] = names.forMetric(event.prompt);
      if (event.note === 'error' && event.errorCode !== undefined) {
        attributes[sc.ATTR_RPC_RESPONSE_STATUS_CODE] = wire.codes.forMetric(event.errorCode);
      }
      if (event.protocolVersion !== undefined)
        attributes[sc.ATTR_MCP_PROTOCOL_VERSION] = wire.versions.forMetric(event.protocolVersion);
      networkAttributes(attributes, event.transport, undefined);
      (event.role === 'server' ? serverOperation : clientOperation).record(
        event.latencyUs / 1e6,
        attributes,
      );
    },
    sessionStarted(event) {
      // session_end does not repeat it; the spec recommends it on the session metrics.
      if (event.protocolVersion !== undefined)
        sessionVersions.set(`${event.role} ${event.sessionId}`, event.protocolVersion);
    },
    session(event) {
      const attributes: Attributes = {};
      const key = `${event.role} ${event.sessionId}`;
      const protocolVersion = sessionVersions.get(key);
      sessionVersions.delete(key);
      if (protocolVersion !== undefined) attributes[sc.ATTR_MCP_PROTOCOL_VERSION] = protocolVersion;
      networkAttributes(attributes, event.transport, undefined);
      (event.role === 'server' ? serverSession : clientSession).record(
        event.durationMs / 1000,
        attributes,
      );
    },
  };
}
