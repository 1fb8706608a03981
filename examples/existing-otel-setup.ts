/**
 * An app that already runs the OpenTelemetry Node SDK with its own exporters. `instrument()`
 * finds the registered SDK and uses it: MCP spans go through the app's span processors with the
 * app's resource, nest under the app's own spans, and MCP metrics go to the app's meter
 * provider. No second pipeline, no OTEL_* variables needed.
 *
 * Here the app's exporters are in-memory ones, so the example can print what they received.
 *
 *   npx tsx examples/existing-otel-setup.ts
 */
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { SpanKind, trace, type Attributes } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { flush, instrument, shutdown } from 'mcp-otel';

/** One span as the app's exporter received it. */
export interface ExportedSpan {
  readonly name: string;
  readonly kind: 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  readonly service: unknown;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  /** Start time, ms since the epoch. */
  readonly startMs: number;
  readonly attributes: Attributes;
}

export interface ExistingSetupResult {
  readonly spans: readonly ExportedSpan[];
  /** Names of the metrics the app's meter provider exported. */
  readonly metrics: readonly string[];
}

export async function main(): Promise<ExistingSetupResult> {
  // ── The app's own OpenTelemetry setup, exactly as it was before mcp-otel.
  const spanExporter = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const metricReader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 60_000,
  });
  const sdk = new NodeSDK({
    serviceName: 'my-app',
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
    metricReaders: [metricReader],
    logRecordProcessors: [],
  });
  sdk.start();

  // ── mcp-otel: one line per server or client, no options. It finds the SDK above.
  const server = instrument(new McpServer({ name: 'forecast', version: '1.0.0' }));
  server.registerTool(
    'get-forecast',
    { description: 'Forecast for a city', inputSchema: { city: z.string() } },
    ({ city }) => ({ content: [{ type: 'text', text: `${city}: sunny` }] }),
  );
  server.registerTool('get-alerts', { description: 'Weather alerts (always fails)' }, () => ({
    isError: true,
    content: [{ type: 'text', text: 'alerts service unavailable' }],
  }));
  const client = instrument(new Client({ name: 'my-app', version: '1.0.0' }));

  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  // The app's own span: the MCP calls made inside it become its children.
  await trace.getTracer('my-app').startActiveSpan('plan trip', async (span) => {
    await client.callTool({ name: 'get-forecast', arguments: { city: 'Lisbon' } });
    await client.callTool({ name: 'get-alerts', arguments: {} });
    span.end();
  });
  await client.close();
  await server.close();

  await flush(); // mcp-otel's queued events → spans and metrics
  await metricReader.forceFlush();
  const spans = spanExporter
    .getFinishedSpans()
    .map((s): ExportedSpan => ({
      name: s.name,
      kind: SpanKind[s.kind] as ExportedSpan['kind'],
      service: s.resource.attributes['service.name'],
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      startMs: s.startTime[0] * 1e3 + s.startTime[1] / 1e6,
      attributes: s.attributes,
    }))
    .sort((a, b) => a.startMs - b.startMs);
  const metrics = [
    ...new Set(
      metricExporter
        .getMetrics()
        .flatMap((r) => r.scopeMetrics.flatMap((sm) => sm.metrics))
        .map((m) => m.descriptor.name),
    ),
  ].sort();

  process.stderr.write(summary(spans, metrics));
  await shutdown();
  await sdk.shutdown();
  return { spans, metrics };
}

/** The spans as a tree (children under their parent), then the metric names. */
function summary(spans: readonly ExportedSpan[], metrics: readonly string[]): string {
  const lines = [`the app's span exporter received ${spans.length} spans:`];
  const ids = new Set(spans.map((s) => s.spanId));
  const walk = (span: ExportedSpan, depth: number): void => {
    const error = span.attributes['error.type'];
    lines.push(
      `  ${'  '.repeat(depth)}${span.name} (${span.kind}, service.name=${String(span.service)}` +
        `${error === undefined ? '' : `, error.type=${String(error)}`})`,
    );
    for (const child of spans.filter((s) => s.parentSpanId === span.spanId)) walk(child, depth + 1);
  };
  for (const root of spans.filter((s) => s.parentSpanId === undefined || !ids.has(s.parentSpanId)))
    walk(root, 0);
  lines.push(`the app's meter provider exported: ${metrics.join(', ')}`);
  return lines.join('\n') + '\n';
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
