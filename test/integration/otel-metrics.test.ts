/**
 * The OTel sink's metrics through a real MeterProvider and an in-memory reader: the four spec
 * histograms (unit `s`, the spec's exact buckets, the spec's attributes and no ids), and the
 * heartbeat gauges.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataPointType, MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { instrument, type OtelSinkOptions } from '../../src/index.js';
import {
  CollectingMetricReader,
  connectOtelPair,
  createTestClient,
  createTestServer,
  histogramPoints,
  onCleanup,
  otelBus,
  runCleanups,
} from '../fixtures/otel-harness.js';
import { linkedPair } from '../helpers/v1.js';

const BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
const HISTOGRAMS = [
  'mcp.server.operation.duration',
  'mcp.client.operation.duration',
  'mcp.server.session.duration',
  'mcp.client.session.duration',
];

afterEach(async () => {
  vi.useRealTimers();
  await runCleanups();
});

function meters(): { reader: CollectingMetricReader; meterProvider: MeterProvider } {
  const reader = new CollectingMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  onCleanup(() => meterProvider.shutdown());
  return { reader, meterProvider };
}

/** Histogram points of `name` whose attributes include `match`. */
function pointsWith(
  metrics: readonly MetricData[],
  name: string,
  match: Record<string, unknown>,
): ReturnType<typeof histogramPoints> {
  return histogramPoints(metrics, name).filter((point) =>
    Object.entries(match).every(([key, value]) => point.attributes[key] === value),
  );
}

function erroringServer(): Server {
  const server = new Server(
    { name: 'erroring', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
  server.setRequestHandler(CallToolRequestSchema, (request) => {
    if (request.params.name === 'invalid') throw new McpError(ErrorCode.InvalidParams, 'nope');
    throw new Error('the database is on fire');
  });
  return server;
}

async function pairWithMeters(sink: OtelSinkOptions = {}, server = createTestServer()) {
  const { reader, meterProvider } = meters();
  const pair = await connectOtelPair({ sink: { meterProvider, ...sink }, server });
  return { ...pair, reader };
}

describe('the spec histograms', () => {
  it('are histograms in seconds with the spec’s exact bucket boundaries', async () => {
    const pair = await pairWithMeters();
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await pair.client.close();
    await pair.setup.bus.flush();
    const metrics = await pair.reader.metrics();
    for (const name of HISTOGRAMS) {
      const metric = metrics.find((m) => m.descriptor.name === name);
      expect(metric, name).toBeDefined();
      expect(metric!.dataPointType).toBe(DataPointType.HISTOGRAM);
      expect(metric!.descriptor.unit).toBe('s');
      const points = histogramPoints(metrics, name);
      expect(points.length, name).toBeGreaterThan(0);
      for (const point of points) expect(point.value.buckets.boundaries).toEqual(BUCKETS);
    }
  });

  it('records operations with the spec’s attributes and never a session or request id', async () => {
    const pair = await pairWithMeters();
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await pair.client.callTool({ name: 'echo', arguments: { text: 'again' } });
    await pair.client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    await pair.client.readResource({ uri: 'file:///readme.md' });
    await pair.client.close();
    await pair.setup.bus.flush();
    const metrics = await pair.reader.metrics();

    for (const name of ['mcp.server.operation.duration', 'mcp.client.operation.duration']) {
      const echo = pointsWith(metrics, name, { 'gen_ai.tool.name': 'echo' });
      expect(echo).toHaveLength(1);
      expect(echo[0]!.attributes).toEqual({
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'echo',
        'gen_ai.operation.name': 'execute_tool',
        'mcp.protocol.version': expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      });
      expect(echo[0]!.value.count).toBe(2);

      const prompt = pointsWith(metrics, name, { 'mcp.method.name': 'prompts/get' });
      expect(prompt).toHaveLength(1);
      expect(prompt[0]!.attributes['gen_ai.prompt.name']).toBe('greet');
      expect(prompt[0]!.attributes).not.toHaveProperty('gen_ai.operation.name');

      // mcp.resource.uri is opt-in on metrics (cardinality).
      const read = pointsWith(metrics, name, { 'mcp.method.name': 'resources/read' });
      expect(read).toHaveLength(1);
      expect(read[0]!.attributes).not.toHaveProperty('mcp.resource.uri');
    }
    const forbidden = ['mcp.session.id', 'jsonrpc.request.id', 'client.address', 'client.port'];
    for (const metric of metrics) {
      for (const point of metric.dataPoints) {
        for (const key of forbidden) {
          expect(point.attributes, metric.descriptor.name).not.toHaveProperty(key);
        }
      }
    }
  });

  it('records durations in seconds', async () => {
    const pair = await pairWithMeters();
    await pair.client.callTool({ name: 'slow', arguments: { ms: 60 } });
    const metrics = await pair.reader.metrics();
    const [slow] = pointsWith(metrics, 'mcp.server.operation.duration', {
      'gen_ai.tool.name': 'slow',
    });
    expect(slow!.value.count).toBe(1);
    expect(slow!.value.sum).toBeGreaterThanOrEqual(0.05);
    expect(slow!.value.sum).toBeLessThan(5);
  });

  it('puts error.type on failed operations (and the server’s classification of -32602)', async () => {
    const tools = await pairWithMeters();
    await tools.client.callTool({ name: 'fail' });
    const broken = await pairWithMeters({}, erroringServer() as never);
    await expect(broken.client.callTool({ name: 'boom' })).rejects.toThrow();
    await expect(broken.client.callTool({ name: 'invalid' })).rejects.toThrow();

    const metrics = await tools.reader.metrics();
    for (const name of ['mcp.server.operation.duration', 'mcp.client.operation.duration']) {
      const [failed] = pointsWith(metrics, name, { 'gen_ai.tool.name': 'fail' });
      expect(failed!.attributes['error.type']).toBe('tool_error');
      expect(failed!.attributes).not.toHaveProperty('rpc.response.status_code');
    }
    const ok = pointsWith(metrics, 'mcp.server.operation.duration', {
      'mcp.method.name': 'initialize',
    });
    expect(ok[0]!.attributes).not.toHaveProperty('error.type');

    const errors = await broken.reader.metrics();
    for (const name of ['mcp.server.operation.duration', 'mcp.client.operation.duration']) {
      const [boom] = pointsWith(errors, name, { 'gen_ai.tool.name': 'boom' });
      expect(boom!.attributes).toMatchObject({
        'error.type': '-32603',
        'rpc.response.status_code': '-32603',
      });
    }
    const [serverInvalid] = pointsWith(errors, 'mcp.server.operation.duration', {
      'gen_ai.tool.name': 'invalid',
    });
    expect(serverInvalid!.attributes['rpc.response.status_code']).toBe('-32602');
    expect(serverInvalid!.attributes).not.toHaveProperty('error.type');
    const [clientInvalid] = pointsWith(errors, 'mcp.client.operation.duration', {
      'gen_ai.tool.name': 'invalid',
    });
    expect(clientInvalid!.attributes['error.type']).toBe('-32602');
  });

  it('records one session duration per side when the session ends', async () => {
    const pair = await pairWithMeters();
    let metrics = await pair.reader.metrics();
    expect(
      metrics.find((m) => m.descriptor.name === 'mcp.server.session.duration'),
    ).toBeUndefined();
    await pair.client.close();
    await pair.setup.bus.flush();
    metrics = await pair.reader.metrics();
    for (const name of ['mcp.server.session.duration', 'mcp.client.session.duration']) {
      const points = histogramPoints(metrics, name);
      expect(points).toHaveLength(1);
      expect(points[0]!.value.count).toBe(1);
      expect(points[0]!.value.sum).toBeLessThan(60);
      expect(points[0]!.attributes).toEqual({
        'mcp.protocol.version': expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      });
    }
  });

  it('caps distinct tool names on metrics (new ones become _OTHER), not on spans', async () => {
    const server = createTestServer();
    for (const name of ['t1', 't2', 't3']) {
      server.registerTool(name, { description: name }, () => ({ content: [] }));
    }
    const pair = await pairWithMeters({ maxDistinctNames: 2 }, server);
    for (const name of ['t1', 't2', 't3', 't1']) await pair.client.callTool({ name });
    await pair.setup.bus.flush();
    const metrics = await pair.reader.metrics();
    const names = histogramPoints(metrics, 'mcp.server.operation.duration')
      .filter((p) => p.attributes['mcp.method.name'] === 'tools/call')
      .map((p) => [p.attributes['gen_ai.tool.name'], p.value.count]);
    expect(names).toEqual(
      expect.arrayContaining([
        ['t1', 2],
        ['t2', 1],
        ['_OTHER', 1],
      ]),
    );
    expect(names).toHaveLength(3);
    const spans = await pair.setup.spans();
    expect(spans.some((s) => s.name === 'tools/call t3')).toBe(true);
  });
});

describe('heartbeat gauges', () => {
  it('report active sessions, in-flight requests and drops after a heartbeat', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { reader, meterProvider } = meters();
    const setup = otelBus({ meterProvider });
    const server = createTestServer();
    let release!: () => void;
    const started = new Promise<void>((resolve) => {
      server.registerTool('hold', { description: 'Holds until released' }, async () => {
        resolve();
        await new Promise<void>((r) => {
          release = r;
        });
        return { content: [] };
      });
    });
    // The first instrument() on a bus fixes its heartbeat interval.
    instrument(server, { bus: setup.bus, heartbeatIntervalMs: 1_000 });
    const client = instrument(createTestClient(), { bus: setup.bus });
    const [a, b] = linkedPair();
    await server.connect(b);
    await client.connect(a);
    onCleanup(() => client.close());

    /** The gauge's values now ([] when it observed nothing, so the reader left it out). */
    const gauge = async (name: string): Promise<number[]> => {
      const metric = (await reader.metrics()).find((m) => m.descriptor.name === name);
      if (!metric) return [];
      expect(metric.dataPointType).toBe(DataPointType.GAUGE);
      return metric.dataPoints.map((p) => p.value as number);
    };
    // No heartbeat yet: nothing to report (the dropped-spans gauge reads the pipeline itself).
    expect(await gauge('mcp_otel.sessions.active')).toEqual([]);
    expect(await gauge('mcp_otel.spans.dropped')).toEqual([0]);

    const call = client.callTool({ name: 'hold' });
    await started;
    vi.advanceTimersByTime(1_000);
    await setup.bus.flush();
    expect(setup.events.ofType('heartbeat')).toHaveLength(1);
    // One session and one pending tools/call on each side of the pair.
    expect(await gauge('mcp_otel.sessions.active')).toEqual([2]);
    expect(await gauge('mcp_otel.requests.in_flight')).toEqual([2]);
    expect(await gauge('mcp_otel.events.dropped')).toEqual([0]);
    expect(await gauge('mcp_otel.spans.dropped')).toEqual([0]);
    const [delay] = await gauge('mcp_otel.event_loop.delay');
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThan(10);
    const metrics = await reader.metrics();
    expect(
      metrics.find((m) => m.descriptor.name === 'mcp_otel.event_loop.delay')!.descriptor.unit,
    ).toBe('s');

    release();
    await call;
    await client.close();
    vi.advanceTimersByTime(1_000);
    await setup.bus.flush();
    expect(await gauge('mcp_otel.sessions.active')).toEqual([0]);
    expect(await gauge('mcp_otel.requests.in_flight')).toEqual([0]);
  });
});
