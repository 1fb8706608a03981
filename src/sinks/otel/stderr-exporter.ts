import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/**
 * `OTEL_TRACES_EXPORTER=console`, but on stderr: the SDK's ConsoleSpanExporter writes to stdout,
 * which a stdio MCP server must keep for JSON-RPC. One JSON object per span per line.
 */
export class StderrSpanExporter implements SpanExporter {
  constructor(private readonly stream: { write(chunk: string): unknown } = process.stderr) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      let text = '';
      for (const span of spans) text += JSON.stringify(describe(span)) + '\n';
      this.stream.write(text);
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback(exportFailed(error));
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function describe(span: ReadableSpan): Record<string, unknown> {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    kind: span.kind,
    timestamp: hrTimeToMicroseconds(span.startTime),
    durationUs: hrTimeToMicroseconds(span.duration),
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    resource: span.resource.attributes,
  };
}

/**
 * `OTEL_METRICS_EXPORTER=console`, on stderr: the SDK's ConsoleMetricExporter writes to stdout.
 * One JSON object per metric per export.
 */
export class StderrMetricExporter implements PushMetricExporter {
  constructor(private readonly stream: { write(chunk: string): unknown } = process.stderr) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    try {
      let text = '';
      for (const scope of metrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          text +=
            JSON.stringify({
              name: metric.descriptor.name,
              unit: metric.descriptor.unit,
              scope: scope.scope.name,
              dataPoints: metric.dataPoints.map((p) => ({
                attributes: p.attributes,
                value: p.value,
              })),
            }) + '\n';
        }
      }
      if (text) this.stream.write(text);
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback(exportFailed(error));
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The failed ExportResult for what an export threw (an Error as it is, anything else wrapped). */
export function exportFailed(error: unknown): ExportResult {
  return {
    code: ExportResultCode.FAILED,
    error: error instanceof Error ? error : new Error(String(error)),
  };
}
