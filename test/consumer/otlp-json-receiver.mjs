// A minimal OTLP/HTTP receiver for the consumer matrix (scripts/consumer-matrix.mjs): a
// node:http server on 127.0.0.1 that accepts POST /v1/traces, /v1/metrics and /v1/logs and
// decodes OTLP/JSON trace requests (the consumers export with OTEL_EXPORTER_OTLP_PROTOCOL=
// http/json). Plain JavaScript with no dependencies, so the runner needs nothing installed: the
// repo's own receiver (test/helpers/otlp-receiver.ts) decodes protobuf with the official protos
// and is what the e2e tests use; this one only has to tell which spans arrived.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** opentelemetry.proto.trace.v1.Span.SpanKind. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;

const KNOWN_PATHS = new Set(['/v1/traces', '/v1/metrics', '/v1/logs']);

/**
 * Starts a receiver on a free port of 127.0.0.1.
 * @returns {Promise<{ url: string, requests: object[], spans(): object[], close(): Promise<void> }>}
 */
export async function startReceiver() {
  const requests = [];
  const sockets = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || !KNOWN_PATHS.has(path)) {
        res.writeHead(404).end();
        return;
      }
      const contentType = String(req.headers['content-type'] ?? '').split(';')[0];
      const record = { path, contentType, spans: [], error: undefined };
      if (path === '/v1/traces') {
        try {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          if (contentType !== 'application/json') {
            throw new Error(`expected OTLP/JSON, got ${contentType || 'no content-type'}`);
          }
          record.spans = flattenSpans(JSON.parse(body.toString('utf8')));
        } catch (error) {
          record.error = error instanceof Error ? error.message : String(error);
        }
      }
      requests.push(record);
      res.writeHead(record.error ? 400 : 200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Every span received so far: { name, kind, traceId, spanId, parentSpanId, attributes, resource, scope }. */
    spans: () => requests.flatMap((r) => r.spans),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** ExportTraceServiceRequest (OTLP/JSON) → flat spans with plain attribute values. */
function flattenSpans(request) {
  const out = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        out.push({
          name: span.name,
          kind: span.kind,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          attributes: attributes(span.attributes),
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

function attributes(list) {
  const out = {};
  for (const { key, value } of list ?? []) out[key] = anyValue(value);
  return out;
}

function anyValue(value) {
  if (!value) return null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(anyValue);
  return null;
}
