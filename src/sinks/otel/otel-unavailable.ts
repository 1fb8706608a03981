/** Why the OpenTelemetry sink could not be loaded, in one line a user can act on. */
export function otelUnavailable(cause: unknown): Error {
  const text = cause instanceof Error ? cause.message : String(cause);
  // Node's "Cannot find module" message goes on with a multi-line require stack.
  const first = text.split('\n')[0] ?? text;
  const missing = /['"](@opentelemetry\/[\w.-]+)['"]/.exec(first)?.[1];
  const hint = missing
    ? `${missing} is not installed where mcp-otel can load it; install @opentelemetry/api (a peer dependency of mcp-otel), e.g. npm install @opentelemetry/api`
    : `OpenTelemetry could not be loaded: ${first}`;
  return new Error(hint, { cause });
}
