/**
 * The stdio scenario's server process: the echo server with the variant named by BENCH_VARIANT
 * applied on the server side, exporting to BENCH_ENDPOINT.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { applyVariant, type Applied, type VariantName } from './variants.js';

const variant = (process.env.BENCH_VARIANT ?? 'baseline') as VariantName;
// The client side of client+server is instrumented in the parent; here only the server.
const serverVariant: VariantName =
  variant === 'mcp-otel client+server' ? 'mcp-otel server' : variant;
const server = new McpServer({ name: 'bench-server', version: '1.0.0' });
server.registerTool('echo', { inputSchema: { text: z.string() } }, (args) => {
  const handler = ({ text }: { text: string }) =>
    Promise.resolve({ content: [{ type: 'text' as const, text }] });
  return applied.wrapHandler(handler)(args);
});
const applied: Applied = applyVariant(
  serverVariant,
  server,
  new Client({ name: 'unused', version: '0' }),
  process.env.BENCH_ENDPOINT ?? '',
);
const transport = new StdioServerTransport();
process.stdin.on('end', () => {
  void applied.close().finally(() => process.exit(0));
});
await server.connect(transport);
