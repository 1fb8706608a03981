/**
 * The ES module flavour of the OpenTelemetry sink loader, compiled in place of
 * ./otel-sink-loader.ts into dist/esm (scripts/build.mjs): a top-level `await import()` in a
 * try, finished before any importer runs. Never imported from source: tsx's CommonJS mode (the
 * --require tests) cannot compile a top-level await.
 */
import type * as OtelSinkModule from './otel-sink.js';
import type { OtelSink, OtelSinkOptions } from './otel-sink.js';
import { otelUnavailable } from './otel-unavailable.js';

let loaded: typeof OtelSinkModule | undefined;
let failure: unknown;
try {
  loaded = await import('./otel-sink.js');
} catch (error) {
  failure = error;
}

/**
 * Creates the OpenTelemetry sink: spec-exact spans (active while handlers run, trace context
 * in `_meta` both ways), the spec's duration histograms, sessions as Resources, schema versions
 * as span events. `instrument()` creates one for you when you pass no sinks. Throws, with a
 * one-line message, when OpenTelemetry cannot be loaded (`@opentelemetry/api` not installed).
 *
 * @example
 * const otel = createOtelSink({ captureContent: true });
 * instrument(server, { sinks: [otel, createConsoleSink()] });
 */
export function createOtelSink(options?: OtelSinkOptions): OtelSink {
  if (!loaded) throw otelUnavailable(failure);
  return loaded.createOtelSink(options);
}
