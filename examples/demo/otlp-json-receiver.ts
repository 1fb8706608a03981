/**
 * A tiny OTLP/HTTP receiver for the demo: `POST /v1/traces|metrics|logs` in OTLP/JSON (gzip or
 * not) on 127.0.0.1. It keeps the spans it receives, answers `{}`, and optionally forwards every
 * payload, unchanged, to a real OTLP endpoint (Jaeger, Honeycomb, a collector).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A span as the demo reads it from OTLP/JSON. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly string[];
  /** OTLP StatusCode: 0 UNSET, 1 OK, 2 ERROR. */
  readonly status: { readonly code: number; readonly message: string };
  /** The span's resource attributes (service.name, session attributes, ...). */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** Where, and with which headers, received payloads are forwarded. */
export interface ForwardTarget {
  /** Base URL, e.g. `http://localhost:4318`; `/v1/<signal>` is appended. */
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ForwardReport {
  readonly ok: number;
  readonly failed: readonly string[];
}

export interface OtlpJsonReceiver {
  /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: readonly ReceivedSpan[];
  /** Payloads that could not be read (not JSON, bad gzip). */
  readonly rejected: number;
  /** Waits (bounded) for forwards still in flight, then stops listening. */
  close(): Promise<ForwardReport>;
}

const SIGNAL_PATHS = new Set(['/v1/traces', '/v1/metrics', '/v1/logs']);
const FORWARD_TIMEOUT_MS = 10_000;

export async function startOtlpJsonReceiver(forward?: ForwardTarget): Promise<OtlpJsonReceiver> {
  const spans: ReceivedSpan[] = [];
  const forwards = new Set<Promise<void>>();
  const failed: string[] = [];
  let forwarded = 0;
  let rejected = 0;

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'POST' || !SIGNAL_PATHS.has(path)) {
      res.writeHead(404).end();
      return;
    }
    readBody(req)
      .then((raw) => {
        if (path === '/v1/traces') {
          try {
            const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
            spans.push(...spansOf(JSON.parse(body.toString('utf8'))));
          } catch {
            rejected++;
            res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
            return;
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        if (forward) {
          const sending = send(forward, path, raw, req)
            .then(() => void forwarded++)
            .catch((error: unknown) => void failed.push(describeError(error)))
            .finally(() => forwards.delete(sending));
          forwards.add(sending);
        }
      })
      .catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    get rejected() {
      return rejected;
    },
    async close() {
      await Promise.allSettled([...forwards]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return { ok: forwarded, failed };
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function send(
  target: ForwardTarget,
  path: string,
  body: Buffer,
  req: IncomingMessage,
): Promise<void> {
  const headers: Record<string, string> = { ...target.headers };
  headers['content-type'] = req.headers['content-type'] ?? 'application/json';
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined) headers['content-encoding'] = encoding;
  const url = target.endpoint.replace(/\/+$/, '') + path;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
}

/** `fetch failed` says little; its cause (ECONNREFUSED, ENOTFOUND, ...) says why. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS` (`key1=value1,key2=value2`, values URL-encoded), as the
 * OTel SDK does.
 */
export function parseOtlpHeaders(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    const raw = pair.slice(at + 1).trim();
    if (key === '') continue;
    try {
      headers[key] = decodeURIComponent(raw);
    } catch {
      headers[key] = raw;
    }
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON (ExportTraceServiceRequest) → ReceivedSpan

type Json = Record<string, unknown>;

function spansOf(request: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of list((request as Json | null)?.resourceSpans)) {
    const resource = attributes((rs.resource as Json | undefined)?.attributes);
    for (const ss of list(rs.scopeSpans)) {
      for (const s of list(ss.spans)) {
        const status = (s.status as Json | undefined) ?? {};
        out.push({
          traceId: str(s.traceId),
          spanId: str(s.spanId),
          parentSpanId: str(s.parentSpanId),
          name: str(s.name),
          kind: Number(s.kind ?? 0),
          startTimeUnixNano: nanos(s.startTimeUnixNano),
          endTimeUnixNano: nanos(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: list(s.events).map((e) => str(e.name)),
          status: { code: Number(status.code ?? 0), message: str(status.message) },
          resource,
        });
      }
    }
  }
  return out;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value as Json[]) : [];
}

/** OTLP/JSON times: a decimal string, a number, or `{ low, high }` 32-bit halves. */
function nanos(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.round(value));
  if (value !== null && typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
    }
  }
  return 0n;
}

function attributes(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list(value)) out[str(kv.key)] = anyValue(kv.value as Json | undefined);
  return out;
}

function anyValue(value: Json | undefined): unknown {
  if (value === undefined || value === null) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return list((value.arrayValue as Json).values).map(anyValue);
  if ('kvlistValue' in value) return attributes((value.kvlistValue as Json).values);
  return undefined;
}
