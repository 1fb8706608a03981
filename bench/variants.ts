/**
 * The instrumentation variants the benchmark compares, each a small setup over the same real
 * MCP server and client. Every variant that exports does so over real OTLP/HTTP JSON to the
 * loopback receiver, through the same kind of batch processor, so differences are ours.
 */
import { SpanKind, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { EventBus, createOtelSink, instrument, type EventSink } from '../src/index.js';
import { CountingBatchSpanProcessor } from '../src/sinks/otel/batch-processor.js';

export type VariantName =
  | 'baseline'
  | 'span-floor'
  | 'mcp-otel server'
  | 'mcp-otel client+server'
  | 'mcp-otel content'
  | 'mcp-otel events-only';

export const VARIANTS: readonly VariantName[] = [
  'baseline',
  'span-floor',
  'mcp-otel server',
  'mcp-otel client+server',
  'mcp-otel content',
  'mcp-otel events-only',
];

/** What a variant does to a server/client pair before it connects. */
export interface Applied {
  /** Wraps the tool handler (span-floor's hand-written span), else identity. */
  readonly wrapHandler: <A extends unknown[], R>(
    fn: (...args: A) => Promise<R> | R,
  ) => (...args: A) => Promise<R>;
  /** Flushes and releases everything the variant created. */
  close(): Promise<void>;
}

const noopSink: EventSink = { name: 'noop', onEvent() {} };

function exporter(endpoint: string): OTLPTraceExporter {
  return new OTLPTraceExporter({ url: `${endpoint}/v1/traces` });
}

/** Applies `variant` to a server and client that are about to connect. */
export function applyVariant(
  variant: VariantName,
  server: McpServer,
  client: Client,
  endpoint: string,
): Applied {
  const identity: Applied['wrapHandler'] =
    (fn) =>
    async (...args) =>
      fn(...args);
  switch (variant) {
    case 'baseline':
      return { wrapHandler: identity, close: () => Promise.resolve() };
    case 'span-floor': {
      // The practical floor: one hand-written SERVER span per request, same pipeline.
      const processor = new CountingBatchSpanProcessor(exporter(endpoint));
      const provider = new TracerProvider({ spanProcessors: [processor] });
      const tracer: Tracer = provider.getTracer('bench');
      return {
        wrapHandler:
          (fn) =>
          (...args) =>
            tracer.startActiveSpan('tools/call echo', { kind: SpanKind.SERVER }, async (span) => {
              try {
                return await fn(...args);
              } finally {
                span.end();
              }
            }),
        close: () => processor.shutdown(),
      };
    }
    case 'mcp-otel server':
    case 'mcp-otel client+server':
    case 'mcp-otel content': {
      const otel = createOtelSink({
        spanExporter: exporter(endpoint),
        captureContent: variant === 'mcp-otel content',
      });
      const bus = new EventBus({ sinks: [otel] });
      instrument(server, { bus });
      if (variant === 'mcp-otel client+server') instrument(client, { bus });
      return { wrapHandler: identity, close: () => bus.shutdown() };
    }
    case 'mcp-otel events-only': {
      const bus = new EventBus({ sinks: [noopSink] });
      instrument(server, { bus });
      return { wrapHandler: identity, close: () => bus.shutdown() };
    }
    default:
      return variant satisfies never;
  }
}
