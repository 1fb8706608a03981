import type { CliOptions } from './args.js';

/** `mcp-otel proxy`: a Streamable HTTP / SSE reverse proxy. */
export function runProxy(_options: CliOptions): Promise<number> {
  process.stderr.write('mcp-otel: proxy is not available yet\n');
  return Promise.resolve(1);
}
