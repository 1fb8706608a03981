/**
 * Issue 7, "Attribute cardinality": values that come off the wire must not explode metric
 * series or attribute sizes. A real low-level SDK Server with a generic tools/call and
 * prompts/get handler is called with thousands of distinct (and some very long) names: the
 * duration histogram keeps at most `maxDistinctNames` names plus `_OTHER`, and names on spans
 * are cut at `maxNameLength`. The same holds for the other wire values that reach metric
 * attributes: method names, error codes and protocol versions. (The 3-name unit case of the cap
 * is in test/integration/otel-metrics.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  McpError,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { EventBus, createOtelSink, instrument, type OtelSinkOptions } from '../../src/index.js';
import { CollectingMetricReader, histogramPoints } from '../fixtures/otel-harness.js';

const MAX_DISTINCT = 100;
const MAX_LENGTH = 256;
const OTHER = '_OTHER';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

/**
 * A real low-level Server (tools/call and prompts/get answer whatever name they get; a tool
 * named `fail-<n>` throws an McpError with code -40000-n), instrumented onto a bus whose OTel
 * sink records spans and metrics, driven by a bare peer that sends raw JSON-RPC (no client-side
 * validation between the wire and the server).
 */
async function wireServer(sink: OtelSinkOptions = {}) {
  const reader = new CollectingMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const bus = new EventBus({
    sinks: [createOtelSink({ spanExporter: exporter, meterProvider, ...sink })],
    flushIntervalMs: 0,
  });
  cleanups.push(
    () => meterProvider.shutdown(),
    () => bus.shutdown(),
  );
  const server = new Server(
    { name: 'cardinality', version: '1.0.0' },
    { capabilities: { tools: {}, prompts: {} } },
  );
  server.setRequestHandler(CallToolRequestSchema, (request) => {
    const name = request.params.name;
    if (name.startsWith('fail-')) throw new McpError(-40_000 - Number(name.slice(5)), 'failed');
    return { content: [] };
  });
  server.setRequestHandler(GetPromptRequestSchema, () => ({ messages: [] }));
  instrument(server, { bus, heartbeatIntervalMs: 0 });
  const [peer, transport] = InMemoryTransport.createLinkedPair();
  await server.connect(transport);
  let answers = 0;
  peer.onmessage = () => {
    answers++;
  };
  await peer.start();
  cleanups.push(() => peer.close());
  let id = 0;
  const send = async (method: string, params?: Record<string, unknown>): Promise<void> => {
    const message = { jsonrpc: '2.0', id: ++id, method, ...(params && { params }) };
    await peer.send(message as JSONRPCMessage);
  };
  await send('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'wire', version: '1.0.0' },
  });
  await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return {
    send,
    answered: () => answers,
    sent: () => id,
    async flush() {
      // The SDK answers on a later turn; wait for every answer, then for the bus.
      while (answers < id) await new Promise((resolve) => setImmediate(resolve));
      await bus.flush();
    },
    async operationPoints() {
      const metrics: MetricData[] = await reader.metrics();
      return histogramPoints(metrics, 'mcp.server.operation.duration');
    },
    spans: () => exporter.getFinishedSpans(),
  };
}

/** Distinct values of `key` among `points`. */
function distinct(
  points: Array<{ attributes: Record<string, unknown> }>,
  key: string,
): Set<unknown> {
  return new Set(points.map((p) => p.attributes[key]).filter((v) => v !== undefined));
}

describe('tool and prompt names from the wire', () => {
  it('5,000 distinct tool names and 1,000 prompt names: at most maxDistinctNames + _OTHER series, names cut at maxNameLength', async () => {
    const wire = await wireServer({ maxDistinctNames: MAX_DISTINCT, maxNameLength: MAX_LENGTH });
    const long = (n: number): string => `tool-${n}-${'L'.repeat(10_000)}`;
    for (let n = 0; n < 5_000; n++) {
      await wire.send('tools/call', { name: n % 50 === 0 ? long(n) : `tool-${n}`, arguments: {} });
    }
    for (let n = 0; n < 1_000; n++) await wire.send('prompts/get', { name: `prompt-${n}` });
    await wire.flush();

    const points = await wire.operationPoints();
    const calls = points.filter((p) => p.attributes['mcp.method.name'] === 'tools/call');
    const tools = distinct(calls, 'gen_ai.tool.name');
    expect(tools.size).toBe(MAX_DISTINCT + 1);
    expect(tools.has(OTHER)).toBe(true);
    expect(calls.reduce((sum, p) => sum + p.value.count, 0)).toBe(5_000);
    const prompts = points.filter((p) => p.attributes['mcp.method.name'] === 'prompts/get');
    expect(distinct(prompts, 'gen_ai.prompt.name').size).toBeLessThanOrEqual(MAX_DISTINCT + 1);
    // Both kinds of names share one budget; the whole histogram stays small.
    expect(points.length).toBeLessThanOrEqual(2 * (MAX_DISTINCT + 1) + 5);
    for (const point of points) {
      for (const value of Object.values(point.attributes))
        expect(String(value).length).toBeLessThanOrEqual(MAX_LENGTH);
    }

    // Spans keep every name (they are not aggregated), cut to maxNameLength.
    const spans = wire.spans().filter((s) => s.attributes['mcp.method.name'] === 'tools/call');
    expect(spans).toHaveLength(5_000);
    expect(new Set(spans.map((s) => s.attributes['gen_ai.tool.name'])).size).toBe(5_000);
    for (const span of spans) {
      expect(String(span.attributes['gen_ai.tool.name']).length).toBeLessThanOrEqual(MAX_LENGTH);
      expect(span.name.length).toBeLessThanOrEqual('tools/call '.length + MAX_LENGTH);
    }
  }, 30_000);
});

describe('other wire values that reach metric attributes', () => {
  it('method names, error codes and protocol versions are capped in count and length', async () => {
    const wire = await wireServer({ maxDistinctNames: MAX_DISTINCT, maxNameLength: MAX_LENGTH });
    const distinctValues = 500;
    const padding = 'P'.repeat(5_000);
    // Unknown methods (the server answers -32601), each a new name, some very long.
    for (let n = 0; n < distinctValues; n++) await wire.send(`vendor/${n}/${padding}`, {});
    // Errors with a new code each.
    for (let n = 0; n < distinctValues; n++) await wire.send('tools/call', { name: `fail-${n}` });
    // Per-request protocol versions (MCP 2026-07-28 `_meta`), each a new one.
    for (let n = 0; n < distinctValues; n++) {
      await wire.send('ping', {
        _meta: { 'io.modelcontextprotocol/protocolVersion': `9999-${n}-${padding}` },
      });
    }
    await wire.flush();

    const points = await wire.operationPoints();
    // MCP's own methods are always kept; the peer's inventions share a budget.
    const invented = [...distinct(points, 'mcp.method.name')].filter(
      (m) => !['initialize', 'notifications/initialized', 'tools/call', 'ping'].includes(String(m)),
    );
    expect(invented.length).toBeLessThanOrEqual(MAX_DISTINCT + 1);
    expect(invented).toContain(OTHER);
    for (const key of ['error.type', 'rpc.response.status_code', 'mcp.protocol.version']) {
      expect(distinct(points, key).size, key).toBeLessThanOrEqual(MAX_DISTINCT + 1);
      expect(distinct(points, key).has(OTHER), key).toBe(true);
    }
    expect(points.length).toBeLessThanOrEqual(4 * (MAX_DISTINCT + 1) + 10);
    for (const point of points) {
      for (const [key, value] of Object.entries(point.attributes))
        expect(String(value).length, key).toBeLessThanOrEqual(MAX_LENGTH);
    }
    for (const span of wire.spans()) {
      expect(span.name.length).toBeLessThanOrEqual(2 * MAX_LENGTH + 1);
      for (const [key, value] of Object.entries(span.attributes))
        expect(String(value).length, key).toBeLessThanOrEqual(MAX_LENGTH);
    }
  }, 30_000);
});
