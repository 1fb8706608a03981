/**
 * Trace context across client and server (SEP-414): the client's span is the parent of the
 * server's through `params._meta`, in memory, across a real stdio child process, and over
 * Streamable HTTP (with the HTTP-header fallback and the ambient HTTP span as a link); injection
 * never mutates the caller's objects; a bad `traceparent` starts a new trace and breaks nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { instrument, setDiagnosticLogger } from '../../src/index.js';
import {
  bareClient,
  connectOtelPair,
  createTestClient,
  createTestServer,
  everyStringOf,
  isChildOf,
  onCleanup,
  otelBus,
  runCleanups,
  startOtelHttpHost,
  theSpan,
  type ExportedSpanLine,
  type OtelSetup,
} from '../fixtures/otel-harness.js';

const { CLIENT, SERVER } = SpanKind;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STDIO_FIXTURE = fileURLToPath(new URL('../fixtures/otel-stdio-server.ts', import.meta.url));
const REQUEST_TIMEOUT_MS = 8_000;
/** Upper bound on waiting for a child process to export its spans. */
const SPANS_DEADLINE_MS = 10_000;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

afterEach(async () => {
  setDiagnosticLogger(undefined);
  await runCleanups();
});

/** A server whose `meta` tool answers with the `_meta` it received. */
function metaServer(name = 'test-server'): McpServer {
  const server = createTestServer(name);
  server.registerTool('meta', { description: 'Answers with the _meta it received' }, (extra) => ({
    content: [{ type: 'text', text: JSON.stringify(extra._meta ?? null) }],
  }));
  return server;
}

/** Calls `meta` through `client.request` with `params` as given; returns the `_meta` the server saw. */
async function callMeta(client: Client, params: Record<string, unknown>): Promise<unknown> {
  const result = await client.request(
    { method: 'tools/call', params: params as { name: string } },
    CallToolResultSchema,
    { timeout: REQUEST_TIMEOUT_MS },
  );
  const block = result.content[0];
  if (block?.type !== 'text') throw new Error('meta answered no text');
  return JSON.parse(block.text) as unknown;
}

/** A tracer of the app's own (an agent framework, an HTTP server) exporting where we look. */
function appTracer(setup: OtelSetup, name: string) {
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: setup.exporter })],
  });
  onCleanup(() => provider.shutdown());
  return provider.getTracer(name);
}

function traceparentOf(span: ReadableSpan): string {
  const { traceId, spanId } = span.spanContext();
  return `00-${traceId}-${spanId}-01`;
}

function randomHex(bytes: number): string {
  let out = '';
  for (let i = 0; i < bytes; i++)
    out += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return out;
}

describe('in memory', () => {
  it('the client span is the parent of the server span via params._meta.traceparent', async () => {
    const { client, setup } = await connectOtelPair({ server: metaServer() });
    const meta = await callMeta(client, { name: 'meta', arguments: {} });
    const spans = await setup.spans();
    const sent = theSpan(spans, 'tools/call meta', CLIENT);
    const received = theSpan(spans, 'tools/call meta', SERVER);
    expect(meta).toEqual({ traceparent: traceparentOf(sent) });
    expect(isChildOf(received, sent)).toBe(true);
    // Notifications carry it too.
    expect(
      isChildOf(
        theSpan(spans, 'notifications/initialized', SERVER),
        theSpan(spans, 'notifications/initialized', CLIENT),
      ),
    ).toBe(true);
  });

  it('an agent’s span is the root of one trace through the client and the server', async () => {
    const { client, setup } = await connectOtelPair({ server: metaServer() });
    const tracer = appTracer(setup, 'agent');
    await tracer.startActiveSpan('agent run', async (span) => {
      try {
        await client.callTool({ name: 'echo', arguments: { text: 'one' } });
        await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
      } finally {
        span.end();
      }
    });
    const spans = await setup.spans();
    const agent = theSpan(spans, 'agent run', SpanKind.INTERNAL);
    expect(agent.parentSpanContext).toBeUndefined();
    for (const name of ['tools/call echo', 'prompts/get greet']) {
      const sent = theSpan(spans, name, CLIENT);
      const received = theSpan(spans, name, SERVER);
      expect(isChildOf(sent, agent)).toBe(true);
      expect(isChildOf(received, sent)).toBe(true);
      // In memory the server receives on the agent's stack; that is no transport span to link.
      expect(received.links).toEqual([]);
    }
  });

  it('a notification a tool sends is a child of the tool’s span, on both sides', async () => {
    const server = createTestServer();
    server.server.registerCapabilities({ logging: {} });
    server.registerTool('log', { description: 'Logs once' }, async (extra) => {
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'info', data: 'working' },
      });
      return { content: [] };
    });
    const { client, setup } = await connectOtelPair({ server });
    await client.callTool({ name: 'log' });
    const spans = await setup.spans();
    const tool = theSpan(spans, 'tools/call log', SERVER);
    const sent = theSpan(spans, 'notifications/message', CLIENT);
    const received = theSpan(spans, 'notifications/message', SERVER);
    expect(isChildOf(sent, tool)).toBe(true);
    expect(isChildOf(received, sent)).toBe(true);
  });

  it('injects without mutating the caller’s params or _meta, and keeps the app’s own _meta keys', async () => {
    const { client, setup } = await connectOtelPair({ server: metaServer() });
    const meta = { custom: 1, 'com.example/tenant': 'acme' };
    const params = { name: 'meta', arguments: { text: 'x' }, _meta: meta };
    const before = structuredClone(params);
    const received = await callMeta(client, params);

    expect(params).toEqual(before);
    expect(params._meta).toBe(meta);
    expect(meta).toEqual({ custom: 1, 'com.example/tenant': 'acme' });
    const sent = theSpan(await setup.spans(), 'tools/call meta', CLIENT);
    expect(received).toEqual({
      custom: 1,
      'com.example/tenant': 'acme',
      traceparent: traceparentOf(sent),
    });
  });

  it('propagates baggage in _meta', async () => {
    const { client } = await connectOtelPair({ server: metaServer() });
    const bag = propagation.createBaggage({ 'user.id': { value: 'u-42' } });
    const received = await context.with(propagation.setBaggage(context.active(), bag), () =>
      callMeta(client, { name: 'meta', arguments: {} }),
    );
    expect(received).toMatchObject({
      traceparent: expect.stringMatching(TRACEPARENT),
      baggage: 'user.id=u-42',
    });
  });

  it('baggage alone in _meta (no traceparent) reaches the handler', async () => {
    const server = createTestServer();
    let seen: string | undefined;
    server.registerTool('bag', { description: 'Reads baggage' }, () => {
      seen = propagation.getBaggage(context.active())?.getEntry('tenant')?.value;
      return { content: [] };
    });
    const { client } = await connectOtelPair({
      server,
      client: bareClient(),
      instrumentClient: false,
    });
    await client.request(
      { method: 'tools/call', params: { name: 'bag', _meta: { baggage: 'tenant=acme' } } },
      CallToolResultSchema,
    );
    expect(seen).toBe('acme');
  });

  it('a malformed traceparent starts a new trace, and the call succeeds', async () => {
    const reported: string[] = [];
    setDiagnosticLogger({ warn: (m) => reported.push(m), error: (m) => reported.push(m) });
    // A client nobody instrumented: what it puts in _meta reaches the server as it is.
    const { client, setup } = await connectOtelPair({
      server: metaServer(),
      client: bareClient(),
      instrumentClient: false,
    });
    const bad = [
      'garbage',
      '00-00000000000000000000000000000000-0000000000000000-01',
      `00-${randomHex(16)}-${randomHex(8)}`,
      `ff-${randomHex(16)}-${randomHex(8)}-01`,
    ];
    for (const traceparent of bad) {
      const echoed = await callMeta(client, {
        name: 'meta',
        arguments: {},
        _meta: { traceparent, tracestate: '=,=' },
      });
      expect(echoed).toEqual({ traceparent, tracestate: '=,=' });
    }
    const spans = (await setup.spans()).filter((s) => s.name === 'tools/call meta');
    expect(spans).toHaveLength(bad.length);
    for (const span of spans) {
      expect(span.kind).toBe(SERVER);
      expect(span.parentSpanContext).toBeUndefined();
      expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    }
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(bad.length);
    expect(reported).toEqual([]);
  });
});

describe('across a real stdio child process', () => {
  let dir: string;

  function tempDir(): string {
    dir = mkdtempSync(join(tmpdir(), 'mcp-otel-otel-stdio-'));
    onCleanup(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    return dir;
  }

  function stdioClient(env: Record<string, string>): {
    transport: StdioClientTransport;
    stderr: () => string;
  } {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', STDIO_FIXTURE],
      env: { ...cleanEnv(), ...env },
      cwd: ROOT,
      stderr: 'pipe',
    });
    let text = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    return { transport, stderr: () => text };
  }

  /** Polls until `read()` yields a span named `name` of `kind`, for at most SPANS_DEADLINE_MS. */
  async function waitForSpan(
    read: () => ExportedSpanLine[],
    name: string,
    kind: SpanKind,
    stderr: () => string,
  ): Promise<ExportedSpanLine[]> {
    const deadline = Date.now() + SPANS_DEADLINE_MS;
    for (;;) {
      const spans = read();
      if (spans.some((s) => s.name === name && s.kind === kind)) return spans;
      if (Date.now() > deadline) {
        throw new Error(
          `no ${name} span from the child after ${SPANS_DEADLINE_MS} ms; have ${spans
            .map((s) => s.name)
            .join(', ')}\nchild stderr:\n${stderr()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The complete JSON lines of `text` that describe spans. */
  function spanLines(text: string): ExportedSpanLine[] {
    return text
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ExportedSpanLine);
  }

  async function agentConversation(
    setup: OtelSetup,
    transport: StdioClientTransport,
  ): Promise<{ client: Client; errors: Error[] }> {
    const client = instrument(createTestClient('claude-ai'), {
      bus: setup.bus,
      heartbeatIntervalMs: 0,
    });
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    onCleanup(() => client.close());
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    const tracer = appTracer(setup, 'agent');
    await tracer.startActiveSpan('agent run', async (span) => {
      try {
        const echoed = await client.callTool(
          { name: 'echo', arguments: { text: 'across processes' } },
          undefined,
          { timeout: REQUEST_TIMEOUT_MS },
        );
        expect(echoed.content).toEqual([{ type: 'text', text: 'across processes' }]);
      } finally {
        span.end();
      }
    });
    return { client, errors };
  }

  it('one trace from the agent through the client span to the server span in the child', async () => {
    const spansFile = join(tempDir(), 'spans.jsonl');
    const setup = otelBus();
    const { transport, stderr } = stdioClient({ SPANS_FILE: spansFile });
    const { client, errors } = await agentConversation(setup, transport);
    const local = await setup.spans();
    await client.close();

    const remote = await waitForSpan(
      () => (existsSync(spansFile) ? spanLines(readFileSync(spansFile, 'utf8')) : []),
      'tools/call echo',
      SERVER,
      stderr,
    );
    const agent = theSpan(local, 'agent run', SpanKind.INTERNAL);
    const sent = theSpan(local, 'tools/call echo', CLIENT);
    const received = remote.find((s) => s.name === 'tools/call echo' && s.kind === SERVER)!;
    expect(isChildOf(sent, agent)).toBe(true);
    expect(received.traceId).toBe(agent.spanContext().traceId);
    expect(received.parentSpanId).toBe(sent.spanContext().spanId);

    expect(sent.attributes['network.transport']).toBe('pipe');
    expect(received.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'network.transport': 'pipe',
      'jsonrpc.request.id': sent.attributes['jsonrpc.request.id'],
    });
    expect(received.resource).toMatchObject({
      'service.name': 'otel-stdio-fixture',
      'mcp.client.name': 'claude-ai',
      'mcp.client.platform': 'claude',
      'mcp.session.id': received.attributes['mcp.session.id'],
    });
    expect(errors).toEqual([]);
  });

  it('the one-line setup with OTEL_TRACES_EXPORTER=console writes spans to stderr, never stdout', async () => {
    const setup = otelBus();
    const { transport, stderr } = stdioClient({
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_SERVICE_NAME: 'weather-from-env',
    });
    // Anything but JSON-RPC on the child's stdout would reach the client as an error.
    const { client, errors } = await agentConversation(setup, transport);
    const local = await setup.spans();
    await client.close();

    const remote = await waitForSpan(() => spanLines(stderr()), 'tools/call echo', SERVER, stderr);
    const sent = theSpan(local, 'tools/call echo', CLIENT);
    const received = remote.find((s) => s.name === 'tools/call echo' && s.kind === SERVER)!;
    expect(received.traceId).toBe(sent.spanContext().traceId);
    expect(received.parentSpanId).toBe(sent.spanContext().spanId);
    expect(received.resource).toMatchObject({
      'service.name': 'weather-from-env',
      'mcp.client.name': 'claude-ai',
    });
    expect(errors).toEqual([]);
  });
});

describe('over Streamable HTTP', () => {
  it('falls back to the HTTP traceparent header when _meta carries no context', async () => {
    const setup = otelBus();
    const host = await startOtelHttpHost(setup.bus);
    onCleanup(() => host.close());
    const traceId = randomHex(16);
    const spanId = randomHex(8);
    const secret = `Bearer secret-${randomHex(8)}`;
    const client = bareClient();
    onCleanup(() => client.close());
    await client.connect(
      new StreamableHTTPClientTransport(host.url, {
        requestInit: {
          headers: { traceparent: `00-${traceId}-${spanId}-01`, authorization: secret },
        },
      }),
      { timeout: REQUEST_TIMEOUT_MS },
    );
    await client.callTool({ name: 'echo', arguments: { text: 'headers only' } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const spans = await setup.spans();
    for (const name of ['initialize', 'tools/call echo']) {
      const received = theSpan(spans, name, SERVER);
      expect(received.spanContext().traceId).toBe(traceId);
      expect(received.parentSpanContext?.spanId).toBe(spanId);
      expect(received.parentSpanContext?.isRemote).toBe(true);
      expect(received.links).toEqual([]);
    }
    // Headers are never recorded.
    for (const span of spans) {
      expect(everyStringOf(span).filter((s) => s.includes('secret-'))).toEqual([]);
    }
  });

  it('HTTP baggage headers reach the handler, with or without a traceparent header', async () => {
    const setup = otelBus();
    const seen: Array<string | undefined> = [];
    const host = await startOtelHttpHost(setup.bus, undefined, () => {
      const server = createTestServer('http-otel');
      server.registerTool('bag', { description: 'Reads baggage' }, () => {
        seen.push(propagation.getBaggage(context.active())?.getEntry('tenant')?.value);
        return { content: [] };
      });
      return server;
    });
    onCleanup(() => host.close());
    const cases: Array<Record<string, string>> = [
      { traceparent: `00-${randomHex(16)}-${randomHex(8)}-01`, baggage: 'tenant=acme' },
      { baggage: 'tenant=globex' },
    ];
    for (const headers of cases) {
      const client = bareClient();
      onCleanup(() => client.close());
      await client.connect(
        new StreamableHTTPClientTransport(host.url, { requestInit: { headers } }),
        {
          timeout: REQUEST_TIMEOUT_MS,
        },
      );
      await client.callTool({ name: 'bag' }, undefined, { timeout: REQUEST_TIMEOUT_MS });
    }
    expect(seen).toEqual(['acme', 'globex']);
  });

  it('with _meta context, the ambient HTTP span is a link, not the parent', async () => {
    const setup = otelBus();
    const http = appTracer(setup, 'http-server');
    const host = await startOtelHttpHost(setup.bus, (handle) =>
      http.startActiveSpan('HTTP POST', { kind: SERVER }, async (span) => {
        try {
          await handle();
        } finally {
          span.end();
        }
      }),
    );
    onCleanup(() => host.close());
    const client = instrument(createTestClient(), { bus: setup.bus, heartbeatIntervalMs: 0 });
    onCleanup(() => client.close());
    await client.connect(new StreamableHTTPClientTransport(host.url), {
      timeout: REQUEST_TIMEOUT_MS,
    });
    await client.callTool({ name: 'echo', arguments: { text: 'linked' } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const spans = await setup.spans();
    const httpSpans = spans.filter((s) => s.name === 'HTTP POST');
    expect(httpSpans.length).toBeGreaterThanOrEqual(2);

    const sent = theSpan(spans, 'tools/call echo', CLIENT);
    const received = theSpan(spans, 'tools/call echo', SERVER);
    expect(isChildOf(received, sent)).toBe(true);
    expect(received.links).toHaveLength(1);
    const link = received.links[0]!.context;
    const carrier = httpSpans.find((s) => s.spanContext().spanId === link.spanId);
    expect(carrier).toBeDefined();
    expect(link.traceId).toBe(carrier!.spanContext().traceId);
    // The HTTP span's trace is not the MCP trace: linked, not merged.
    expect(link.traceId).not.toBe(sent.spanContext().traceId);
  });

  it('with no context in _meta or headers, the ambient HTTP span is the parent', async () => {
    const setup = otelBus();
    const http = appTracer(setup, 'http-server');
    const host = await startOtelHttpHost(setup.bus, (handle) =>
      http.startActiveSpan('HTTP POST', { kind: SERVER }, async (span) => {
        try {
          await handle();
        } finally {
          span.end();
        }
      }),
    );
    onCleanup(() => host.close());
    const client = bareClient();
    onCleanup(() => client.close());
    await client.connect(new StreamableHTTPClientTransport(host.url), {
      timeout: REQUEST_TIMEOUT_MS,
    });
    await client.callTool({ name: 'echo', arguments: { text: 'ambient' } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const spans = await setup.spans();
    const received = theSpan(spans, 'tools/call echo', SERVER);
    const parent = spans.find(
      (s) =>
        s.name === 'HTTP POST' && s.spanContext().spanId === received.parentSpanContext?.spanId,
    );
    expect(parent).toBeDefined();
    expect(isChildOf(received, parent!)).toBe(true);
    expect(received.links).toEqual([]);
  });
});

/** This process's environment without OTEL_* settings that would change the child's pipeline. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('OTEL_')) env[key] = value;
  }
  return env;
}
