/**
 * The stdio scenario's server process: the echo server with the variant named by BENCH_VARIANT
 * applied on the server side, exporting to BENCH_ENDPOINT. Its `bench_flush` tool exports what
 * the variant holds, so the parent can charge export to the measurement that caused it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { echoServer } from './scenarios.js';
import { applyVariant, type Applied, type VariantName } from './variants.js';

const variant = (process.env.BENCH_VARIANT ?? 'baseline') as VariantName;
// The client side of the client+server variants is instrumented in the parent; here the server.
// (span-floor client+server's server side extracts the parent from `_meta` itself.)
const serverVariant: VariantName =
  variant === 'mcp-otel client+server' ? 'mcp-otel server' : variant;
const server = echoServer(() => applied);
server.registerTool('bench_flush', {}, async () => {
  await applied.flush();
  return { content: [] };
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
