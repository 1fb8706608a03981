/**
 * A minimal OTLP/HTTP receiver for end-to-end tests: a real node:http server on 127.0.0.1 that
 * accepts `POST /v1/traces` (and records `/v1/metrics`, `/v1/logs`), in OTLP/JSON or OTLP/protobuf,
 * gzip or not, and decodes every traces request with the OFFICIAL opentelemetry-proto definitions
 * (the `.proto` files shipped in `@opentelemetry/otlp-grpc-exporter-base@0.38.0`, loaded with
 * protobufjs). Both encodings go through the same message type, so a payload that does not fit
 * the official schema fails here, not silently in an assertion.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

// ---------------------------------------------------------------------------------------------
// The official schema

const require = createRequire(import.meta.url);
/** `build/protos` of the package: a verbatim copy of github.com/open-telemetry/opentelemetry-proto. */
const PROTO_ROOT = join(
  dirname(require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json')),
  'build',
  'protos',
);
const TRACE_SERVICE = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

function loadSchema(): { request: protobuf.Type; response: protobuf.Type } {
  const root = new protobuf.Root();
  // Imports in the .proto files are relative to the protos directory.
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(TRACE_SERVICE, { keepCase: false });
  return {
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  };
}

const schema = loadSchema();

/** How protobufjs turns a decoded message into plain data: 64-bit ints as strings, enums as numbers. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
};

// ---------------------------------------------------------------------------------------------
// The decoded shape the tests assert on

/** An attribute value as a test sees it (AnyValue, unwrapped). */
export type OtlpValue =
  string | number | boolean | null | readonly OtlpValue[] | { readonly [key: string]: OtlpValue };
export type OtlpAttributes = Readonly<Record<string, OtlpValue>>;

export interface OtlpEvent {
  readonly name: string;
  readonly timeUnixNano: string;
  readonly attributes: OtlpAttributes;
}

export interface OtlpLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: OtlpAttributes;
}

/** One span; ids are lowercase hex, `parentSpanId` is '' for a root span. */
export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** opentelemetry.proto.trace.v1.Span.SpanKind: 2 SERVER, 3 CLIENT. */
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: OtlpAttributes;
  readonly events: readonly OtlpEvent[];
  readonly links: readonly OtlpLink[];
  /** opentelemetry.proto.trace.v1.Status.StatusCode: 0 UNSET, 1 OK, 2 ERROR. */
  readonly status: { readonly code: number; readonly message: string };
}

export interface OtlpScopeSpans {
  readonly scope: { readonly name: string; readonly version: string };
  readonly spans: readonly OtlpSpan[];
}

export interface OtlpResourceSpans {
  readonly resource: OtlpAttributes;
  readonly scopeSpans: readonly OtlpScopeSpans[];
}

export interface OtlpTraceRequest {
  readonly resourceSpans: readonly OtlpResourceSpans[];
}

/** Span kinds and status codes from the official trace.proto. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;
export const STATUS_CODE_ERROR = 2;

/** One request the receiver answered (or is holding, in `hang` mode). */
export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly encoding: 'json' | 'protobuf' | 'unknown';
  /** Bytes on the wire (before gunzip). */
  readonly bytes: number;
  /** Decoded ExportTraceServiceRequest, for a decodable `/v1/traces` request. */
  readonly traces?: OtlpTraceRequest;
  /** Why decoding failed, if it did (the request is still answered 400). */
  readonly decodeError?: string;
}

/** How the receiver answers. Change it at any time with {@link OtlpReceiver.setBehaviour}. */
export type ReceiverBehaviour =
  | { readonly mode: 'ok' }
  | {
      readonly mode: 'status';
      readonly status: 429 | 500 | 503;
      readonly retryAfterSeconds?: number;
    }
  | { readonly mode: 'hang' };

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly requests: readonly ReceivedRequest[];
  /** TCP connections accepted so far (a client that connected but sent nothing counts too). */
  readonly connections: number;
  setBehaviour(behaviour: ReceiverBehaviour): void;
  /** Every resourceSpans of every decoded traces request, in arrival order. */
  resourceSpans(): OtlpResourceSpans[];
  /** Every span of every decoded traces request, with its resource. */
  spans(): { span: OtlpSpan; resource: OtlpAttributes }[];
  /** Stops listening and destroys every open socket (hung requests included). */
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 on a free port. */
export async function startOtlpReceiver(
  initial: ReceiverBehaviour = { mode: 'ok' },
): Promise<OtlpReceiver> {
  let behaviour = initial;
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const raw = Buffer.concat(chunks);
      const encoding = encodingOf(req.headers['content-type']);
      if (req.method !== 'POST' || !KNOWN_PATHS.has(path)) {
        res.writeHead(404).end();
        return;
      }
      let traces: OtlpTraceRequest | undefined;
      let decodeError: string | undefined;
      if (path === '/v1/traces') {
        try {
          const body = gunzipIf(raw, req.headers['content-encoding']);
          traces = decodeTraces(body, encoding);
        } catch (error) {
          decodeError = error instanceof Error ? error.message : String(error);
        }
      }
      requests.push({
        path,
        headers: req.headers,
        encoding,
        bytes: raw.length,
        traces,
        decodeError,
      });
      answer(res, behaviour, encoding, decodeError);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    setBehaviour(next) {
      behaviour = next;
    },
    resourceSpans() {
      return requests.flatMap((r) => r.traces?.resourceSpans ?? []);
    },
    spans() {
      return requests.flatMap((r) =>
        (r.traces?.resourceSpans ?? []).flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, resource: rs.resource }))),
        ),
      );
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}

const KNOWN_PATHS = new Set(['/v1/traces', '/v1/metrics', '/v1/logs']);

function encodingOf(contentType: string | undefined): ReceivedRequest['encoding'] {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf') return 'protobuf';
  return 'unknown';
}

function gunzipIf(body: Buffer, contentEncoding: string | undefined): Buffer {
  if (contentEncoding === undefined || contentEncoding === 'identity') return body;
  if (contentEncoding === 'gzip') return gunzipSync(body);
  throw new Error(`unsupported content-encoding ${contentEncoding}`);
}

function answer(
  res: ServerResponse,
  behaviour: ReceiverBehaviour,
  encoding: ReceivedRequest['encoding'],
  decodeError: string | undefined,
): void {
  switch (behaviour.mode) {
    case 'hang':
      return; // close() destroys the socket
    case 'status': {
      const headers: Record<string, string> = {};
      if (behaviour.retryAfterSeconds !== undefined)
        headers['retry-after'] = String(behaviour.retryAfterSeconds);
      res.writeHead(behaviour.status, headers).end();
      return;
    }
    case 'ok':
      break;
    default:
      behaviour satisfies never;
  }
  if (decodeError !== undefined) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(decodeError);
    return;
  }
  // An empty ExportTraceServiceResponse (no partial_success), in the request's encoding.
  if (encoding === 'json') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  } else {
    const bytes = schema.response.encode(schema.response.create({})).finish();
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(bytes));
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes an ExportTraceServiceRequest. Protobuf: `Type.decode`. OTLP/JSON: the trace and span
 * ids are hex (not proto3-JSON base64) per the OTLP spec, so they are checked and turned into
 * bytes first, then `Type.fromObject` maps the JSON onto the same official message type.
 */
export function decodeTraces(
  body: Buffer,
  encoding: ReceivedRequest['encoding'],
): OtlpTraceRequest {
  let message: protobuf.Message;
  if (encoding === 'protobuf') {
    message = schema.request.decode(body);
  } else if (encoding === 'json') {
    const json: unknown = JSON.parse(body.toString('utf8'));
    message = schema.request.fromObject(hexIdsToBytes(json) as Record<string, unknown>);
  } else {
    throw new Error('unsupported content-type');
  }
  const verify = schema.request.verify(message);
  if (verify !== null) throw new Error(`ExportTraceServiceRequest: ${verify}`);
  return normalise(schema.request.toObject(message, TO_OBJECT));
}

const ID_KEYS: Readonly<Record<string, number>> = { traceId: 16, spanId: 8, parentSpanId: 8 };

/** OTLP/JSON ids are case-insensitive hex of exactly 16 or 8 bytes (or empty for "none"). */
function hexIdsToBytes(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => hexIdsToBytes(item));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = hexIdsToBytes(v, k);
    return out;
  }
  const length = key === undefined ? undefined : ID_KEYS[key];
  if (length !== undefined && typeof value === 'string') {
    if (value === '') return new Uint8Array(0);
    if (!new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(value))
      throw new Error(`${key} is not ${length}-byte hex: ${value}`);
    return Buffer.from(value, 'hex');
  }
  return value;
}

type Plain = Record<string, unknown>;

function normalise(request: Plain): OtlpTraceRequest {
  return {
    resourceSpans: list(request.resourceSpans).map((rs) => ({
      resource: attributes((rs.resource as Plain | undefined)?.attributes),
      scopeSpans: list(rs.scopeSpans).map((ss) => {
        const scope = (ss.scope as Plain | undefined) ?? {};
        return {
          scope: { name: text(scope.name), version: text(scope.version) },
          spans: list(ss.spans).map(span),
        };
      }),
    })),
  };
}

function span(s: Plain): OtlpSpan {
  const status = (s.status as Plain | undefined) ?? {};
  return {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    parentSpanId: hex(s.parentSpanId),
    name: text(s.name),
    kind: Number(s.kind),
    startTimeUnixNano: text(s.startTimeUnixNano),
    endTimeUnixNano: text(s.endTimeUnixNano),
    attributes: attributes(s.attributes),
    events: list(s.events).map((e) => ({
      name: text(e.name),
      timeUnixNano: text(e.timeUnixNano),
      attributes: attributes(e.attributes),
    })),
    links: list(s.links).map((l) => ({
      traceId: hex(l.traceId),
      spanId: hex(l.spanId),
      attributes: attributes(l.attributes),
    })),
    status: { code: Number(status.code ?? 0), message: text(status.message) },
  };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function list(value: unknown): Plain[] {
  return Array.isArray(value) ? (value as Plain[]) : [];
}

function hex(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return '';
}

function attributes(value: unknown): OtlpAttributes {
  const out: Record<string, OtlpValue> = {};
  for (const kv of list(value)) out[text(kv.key)] = anyValue(kv.value as Plain | undefined);
  return out;
}

/** opentelemetry.proto.common.v1.AnyValue, unwrapped; int64 comes back as a JS number. */
function anyValue(value: Plain | undefined): OtlpValue {
  if (value === undefined || value === null) return null;
  if (value.stringValue !== undefined) return text(value.stringValue);
  if (value.boolValue !== undefined) return Boolean(value.boolValue);
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined)
    return list((value.arrayValue as Plain).values).map((v) => anyValue(v));
  if (value.kvlistValue !== undefined) return attributes((value.kvlistValue as Plain).values);
  if (value.bytesValue !== undefined) return hex(value.bytesValue);
  return null;
}

/**
 * Polls `predicate` every 25 ms until it holds or `timeoutMs` passes (then throws, with
 * `describe()` in the message). For waiting on another process; never for timers of our own.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs: number,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() >= deadline)
      throw new Error(`waitFor: timed out after ${timeoutMs} ms ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
