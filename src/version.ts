/** Package version, reported as the instrumentation scope version and by `mcp-otel --version`. */
export const INSTRUMENTATION_VERSION = '0.1.0';
