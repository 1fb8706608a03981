/**
 * The one door to the OpenTelemetry sink for everything that must work without OpenTelemetry
 * (the public API, `instrument()` with other sinks, the CLI with --no-otel). Run from source
 * (tests, tsx) it is this plain re-export; the published build puts a guarded twin in its
 * place, which loads ./otel-sink.js (and with it `@opentelemetry/api` and the SDK packages) in
 * a try, so that a missing or unloadable peer becomes one diagnostic line instead of an import
 * that fails before the app's first line runs (issue 8): ./otel-sink-loader-esm.ts for dist/esm,
 * ./otel-sink-loader-cjs.ts for dist/cjs (scripts/build.mjs). The consumer matrix
 * (scripts/consumer-matrix.mjs, `missing-api`) tests them on the packed package.
 */
export { createOtelSink } from './otel-sink.js';
