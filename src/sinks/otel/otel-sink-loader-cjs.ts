/**
 * The CommonJS flavour of the OpenTelemetry sink loader, compiled in place of
 * ./otel-sink-loader.ts into dist/cjs (scripts/build.mjs): a synchronous require() in a try, at
 * load time, as the ES module flavour's top-level await. Never imported from source.
 */
import { createRequire } from 'node:module';
import type * as OtelSinkModule from './otel-sink.js';
import type { OtelSink, OtelSinkOptions } from './otel-sink.js';
import { otelUnavailable } from './otel-unavailable.js';

let loaded: typeof OtelSinkModule | undefined;
let failure: unknown;
try {
  loaded = createRequire(import.meta.url)('./otel-sink.js') as typeof OtelSinkModule;
} catch (error) {
  failure = error;
}

/** See ./otel-sink-loader-esm.ts. */
export function createOtelSink(options?: OtelSinkOptions): OtelSink {
  if (!loaded) throw otelUnavailable(failure);
  return loaded.createOtelSink(options);
}
