import type { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  EventBus,
  createMemorySink,
  createOtelSink,
  type OtelSinkOptions,
} from '../../src/index.js';

/** A bus with a memory sink and an OTel sink exporting to memory through our own pipeline. */
export function otelSetup(options: OtelSinkOptions = {}) {
  const exporter = new InMemorySpanExporter();
  const otel = createOtelSink({ spanExporter: exporter, ...options });
  const events = createMemorySink();
  const bus = new EventBus({ sinks: [otel, events] });
  return {
    exporter,
    otel,
    events,
    bus,
    /** Flushes the bus and the span pipeline, then returns every finished span. */
    async spans(): Promise<ReadableSpan[]> {
      await bus.flush();
      return exporter.getFinishedSpans();
    },
  };
}

export function spanNamed(
  spans: readonly ReadableSpan[],
  name: string,
  kind?: SpanKind,
): ReadableSpan {
  const span = spans.find((s) => s.name === name && (kind === undefined || s.kind === kind));
  if (!span)
    throw new Error(
      `no span named ${name}; have: ${spans.map((s) => `${s.name}/${s.kind}`).join(', ')}`,
    );
  return span;
}
