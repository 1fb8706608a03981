/**
 * The instrumentation variants the benchmark compares, each a small setup over the same real
 * MCP server and client. Every variant that exports does so over real OTLP/HTTP JSON to the
 * loopback receiver, through the same kind of batch processor, so differences are ours.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import * as current from '../src/index.js';
import type { EventSink } from '../src/index.js';
import { CountingBatchSpanProcessor } from '../src/sinks/otel/batch-processor.js';

/** What the variants use of the library: this tree's, or another copy's (`--compare`). */
export type Library = Pick<typeof current, 'EventBus' | 'createOtelSink' | 'instrument'>;

let compared: Library | undefined;

/**
 * `--compare <dir>`: another copy of src/ (e.g. the last commit's), loaded next to this one;
 * every mcp-otel variant then also runs as `<variant> @before` on it, interleaved, so a change
 * is measured against what it replaces in the same process, under the same load.
 */
export function setComparedLibrary(lib: Library): void {
  compared = lib;
}

export const BEFORE = ' @before';

export type VariantName =
  | 'baseline'
  | 'span-floor'
  | 'span-floor client+server'
  | 'span-floor + attributes'
  | 'span-floor client+server + attributes'
  | 'mcp-otel server'
  | 'mcp-otel client+server'
  | 'mcp-otel content'
  | 'mcp-otel events-only';

/** Arguments of a `tools/call`; `_meta` is where hand-written propagation puts trace context. */
export interface CallParams {
  name: string;
  arguments: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

interface Extra {
  _meta?: Record<string, unknown>;
  requestId?: string | number;
}
type Handler = (args: never, extra: Extra) => Promise<unknown>;

/** What a variant does to a server/client pair before it connects. */
export interface Applied {
  /** Wraps the tool handler (span-floor's hand-written span), else identity. */
  wrapHandler<H extends Handler>(fn: H): H;
  /** Wraps the client's call (span-floor client+server's CLIENT span and `_meta`), else identity. */
  wrapCall(
    call: (params: CallParams) => Promise<unknown>,
  ): (params: CallParams) => Promise<unknown>;
  /** Exports whatever the variant holds (counted in the measurement: export is part of the cost). */
  flush(): Promise<void>;
  /** Flushes and releases everything the variant created. */
  close(): Promise<void>;
}

const noopSink: EventSink = { name: 'noop', onEvent() {} };

export function exporter(endpoint: string): OTLPTraceExporter {
  return new OTLPTraceExporter({ url: `${endpoint}/v1/traces` });
}

/**
 * Batching for every exporting variant: a batch goes out when full or when the runner flushes
 * the variant (at the end of its share of a repetition), never on a timer, so export work is
 * charged to the variant that produced it, not to whichever happens to run when a timer fires.
 */
export const BATCH = { scheduledDelayMillis: 3_600_000 } as const;

const identity = {
  wrapHandler: <H>(fn: H): H => fn,
  wrapCall: <C>(call: C): C => call,
};

/** Hand-written spans: the practical floor, on the same processor and exporter as ours. */
function floor(endpoint: string, clientToo: boolean, attributes = false): Applied {
  const processor = new CountingBatchSpanProcessor(exporter(endpoint), BATCH);
  const provider = new TracerProvider({ spanProcessors: [processor] });
  const tracer: Tracer = provider.getTracer('bench');
  const propagator = new W3CTraceContextPropagator();
  const sessionId = randomUUID();
  return {
    wrapHandler: <H extends Handler>(fn: H): H =>
      ((args: never, extra: Extra) => {
        const parent =
          clientToo && extra._meta
            ? propagator.extract(ROOT_CONTEXT, extra._meta, defaultTextMapGetter)
            : context.active();
        return tracer.startActiveSpan(
          'tools/call echo',
          {
            kind: SpanKind.SERVER,
            // The attributes mcp-otel's SERVER span of this call carries (the spec's).
            ...(attributes && {
              attributes: {
                'mcp.method.name': 'tools/call',
                'jsonrpc.request.id': String(extra.requestId),
                'gen_ai.tool.name': 'echo',
                'gen_ai.operation.name': 'execute_tool',
                'mcp.protocol.version': '2025-11-25',
                'mcp.session.id': sessionId,
              },
            }),
          },
          parent,
          async (span) => {
            try {
              return await fn(args, extra);
            } finally {
              span.end();
            }
          },
        );
      }) as H,
    wrapCall: clientToo
      ? (call) => (params) =>
          tracer.startActiveSpan(
            'tools/call echo',
            {
              kind: SpanKind.CLIENT,
              // What mcp-otel's CLIENT span carries here but the request id, which the SDK
              // assigns after this wrapper runs.
              ...(attributes && {
                attributes: {
                  'mcp.method.name': 'tools/call',
                  'gen_ai.tool.name': 'echo',
                  'gen_ai.operation.name': 'execute_tool',
                  'mcp.protocol.version': '2025-11-25',
                  'mcp.session.id': sessionId,
                },
              }),
            },
            async (span) => {
              const meta: Record<string, unknown> = {};
              propagator.inject(trace.setSpan(context.active(), span), meta, defaultTextMapSetter);
              try {
                return await call({ ...params, _meta: meta });
              } finally {
                span.end();
              }
            },
          )
      : identity.wrapCall,
    flush: () => processor.forceFlush(),
    close: () => processor.shutdown(),
  };
}

/** A variant, on this tree's library or (suffix ` @before`) on the `--compare` one. */
export type VariantId = VariantName | `${VariantName}${typeof BEFORE}`;

/** Applies `variant` to a server and client that are about to connect. */
export function applyVariant(
  name: VariantId,
  server: McpServer,
  client: Client,
  endpoint: string,
  options: { schemaTracking?: boolean } = {},
): Applied {
  const before = name.endsWith(BEFORE);
  const variant = (before ? name.slice(0, -BEFORE.length) : name) as VariantName;
  const lib: Library = before && compared ? compared : current;
  if (before && !compared) throw new Error(`${name}: no --compare library loaded`);
  const { EventBus, createOtelSink, instrument } = lib;
  switch (variant) {
    case 'baseline':
      return { ...identity, flush: () => Promise.resolve(), close: () => Promise.resolve() };
    case 'span-floor':
      // One hand-written SERVER span per request.
      return floor(endpoint, false);
    case 'span-floor client+server':
      // Two hand-written spans (CLIENT and SERVER) with W3C trace context through `_meta`.
      return floor(endpoint, true);
    case 'span-floor + attributes':
      // One hand-written SERVER span with the six attributes mcp-otel's span carries here.
      return floor(endpoint, false, true);
    case 'span-floor client+server + attributes':
      // Both hand-written spans with the spec attributes mcp-otel's spans carry.
      return floor(endpoint, true, true);
    case 'mcp-otel server':
    case 'mcp-otel client+server':
    case 'mcp-otel content': {
      const otel = createOtelSink({
        spanExporter: exporter(endpoint),
        batch: BATCH,
        captureContent: variant === 'mcp-otel content',
      });
      const bus = new EventBus({ sinks: [otel] });
      instrument(server, { bus, schemaTracking: options.schemaTracking ?? true });
      if (variant === 'mcp-otel client+server') instrument(client, { bus });
      return { ...identity, flush: () => bus.flush(), close: () => bus.shutdown() };
    }
    case 'mcp-otel events-only': {
      const bus = new EventBus({ sinks: [noopSink] });
      instrument(server, { bus });
      return { ...identity, flush: () => bus.flush(), close: () => bus.shutdown() };
    }
    default:
      return variant satisfies never;
  }
}
