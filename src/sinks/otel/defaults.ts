/**
 * The OpenTelemetry sink's option defaults, apart from the sink itself so that the public API
 * can export them without loading OpenTelemetry (see ./otel-sink-loader.ts).
 */

/** Default `OtelSinkOptions.maxContentBytes`. */
export const DEFAULT_MAX_CONTENT_BYTES = 8_192;
/** Default `OtelSinkOptions.maxSchemaPayloadBytes`: 64 KiB. */
export const DEFAULT_MAX_SCHEMA_PAYLOAD_BYTES = 65_536;
/** Default `OtelSinkOptions.maxDistinctNames`. */
export const DEFAULT_MAX_DISTINCT_NAMES = 1_000;
/** Default `OtelSinkOptions.maxNameLength`. */
export const DEFAULT_MAX_NAME_LENGTH = 256;
