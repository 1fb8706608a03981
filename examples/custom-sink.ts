/**
 * A user-written EventSink next to the built-in console sink: an instrumented McpServer and
 * Client talk in-process; every event is printed to stderr, and the custom sink keeps a
 * per-tool latency summary that it prints at shutdown.
 *
 *   npm run example
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';
import { EventBus, createConsoleSink, instrument, type EventSink, type ProxyEvent } from 'mcp-otel';

/** Keeps count and total latency per tool; prints a table when the bus shuts down. */
function createToolStatsSink(): EventSink & { summary(): string } {
  const stats = new Map<string, { calls: number; errors: number; totalUs: number }>();
  return {
    name: 'tool-stats',
    onEvent(event: ProxyEvent) {
      if (event.type !== 'request' || event.role !== 'server' || event.tool === undefined) return;
      const entry = stats.get(event.tool) ?? { calls: 0, errors: 0, totalUs: 0 };
      entry.calls++;
      entry.totalUs += event.latencyUs;
      if (event.note !== 'ok') entry.errors++;
      stats.set(event.tool, entry);
    },
    summary() {
      const lines = [...stats].map(
        ([tool, s]) =>
          `  ${tool.padEnd(10)} ${String(s.calls).padStart(3)} calls  ${String(s.errors).padStart(2)} errors  mean ${(s.totalUs / s.calls / 1000).toFixed(2)}ms`,
      );
      return ['tool stats:', ...lines].join('\n');
    },
    shutdown() {
      process.stderr.write(this.summary() + '\n');
      return Promise.resolve();
    },
  };
}

export async function main(): Promise<EventSink & { summary(): string }> {
  const stats = createToolStatsSink();
  const bus = new EventBus({ sinks: [createConsoleSink({ format: 'pretty' }), stats] });

  const server = instrument(new McpServer({ name: 'example-server', version: '1.0.0' }), { bus });
  server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  server.registerTool('divide', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) =>
    b === 0
      ? { isError: true, content: [{ type: 'text', text: 'division by zero' }] }
      : { content: [{ type: 'text', text: String(a / b) }] },
  );

  const client = instrument(new Client({ name: 'claude-code', version: '2.0.0' }), { bus });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);

  await client.listTools();
  await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  await client.callTool({ name: 'divide', arguments: { a: 1, b: 0 } });
  await client.callTool({ name: 'divide', arguments: { a: 9, b: 3 } });
  await client.close();
  await bus.shutdown();
  return stats;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
