/**
 * The OTel sink's spans from a real SDK 1.x server and client: names, kinds, every attribute the
 * MCP semantic conventions ask for, errors and their status, notifications both ways, progress as
 * span events, cancellation and closed transports, nesting under the span of a running handler,
 * schema versions as span events, sessions as resources, sampling off, and live hooks that throw.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  CallToolRequestSchema,
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  EventBus,
  createMemorySink,
  createOtelSink,
  instrument,
  instrumentTransport,
  setDiagnosticLogger,
  type EventSink,
  type LiveHooks,
} from '../../src/index.js';
import {
  connectOtelPair,
  createTestClient,
  createTestServer,
  isChildOf,
  onCleanup,
  otelBus,
  runCleanups,
  spansNamed,
  startOtelHttpHost,
  theSpan,
  type OtelSetup,
} from '../fixtures/otel-harness.js';
import { linkedPair } from '../helpers/v1.js';

const { CLIENT, SERVER } = SpanKind;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const VERSION = /^\d{4}-\d{2}-\d{2}$/;
const REQUEST_TIMEOUT_MS = 4_000;

afterEach(async () => {
  setDiagnosticLogger(undefined);
  await runCleanups();
});

/** A promise and its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Extra tools for these tests on top of the shared test server. */
function richServer(): McpServer & { started: Promise<void> } {
  const server = createTestServer();
  const started = deferred();
  server.registerTool('progress', { description: 'Reports progress twice' }, async (extra) => {
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: 1, total: 2, message: 'half way' },
      });
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: 2, total: 2 },
      });
    }
    return { content: [{ type: 'text', text: 'progressed' }] };
  });
  server.registerTool('wait', { description: 'Waits until cancelled' }, async (extra) => {
    started.resolve();
    await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
    return { content: [{ type: 'text', text: 'aborted' }] };
  });
  return Object.assign(server, { started: started.promise });
}

/** A low-level server whose tools fail with JSON-RPC errors. */
function erroringServer(): Server {
  const server = new Server(
    { name: 'erroring', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
  server.setRequestHandler(CallToolRequestSchema, (request) => {
    if (request.params.name === 'invalid')
      throw new McpError(ErrorCode.InvalidParams, 'no such thing');
    throw new Error('the database is on fire');
  });
  return server;
}

/** An OTel sink on a user's own TracerProvider (exporting to memory) and a memory sink. */
function providedSetup(sampler: Sampler): OtelSetup {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const otel = createOtelSink({ tracerProvider: provider });
  const events = createMemorySink();
  const bus = new EventBus({ sinks: [otel, events] });
  onCleanup(() => bus.shutdown());
  return {
    exporter,
    otel,
    events,
    bus,
    async spans() {
      await bus.flush();
      return exporter.getFinishedSpans();
    },
  };
}

describe('span names and kinds', () => {
  it('names spans {method} {target} and sets CLIENT on the sender, SERVER on the receiver', async () => {
    const { client, setup } = await connectOtelPair();
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    await client.readResource({ uri: 'file:///readme.md' });
    const spans = await setup.spans();

    for (const name of [
      'initialize',
      'notifications/initialized',
      'tools/call echo',
      'prompts/get greet',
      'resources/read',
    ]) {
      const sent = theSpan(spans, name, CLIENT);
      const received = theSpan(spans, name, SERVER);
      // The receiving side's span is the sending side's child, through _meta.
      expect(isChildOf(received, sent)).toBe(true);
    }
    // The resource URI is high-cardinality: not in any name unless opted in.
    expect(spans.filter((s) => s.name.includes('file://'))).toEqual([]);
  });

  it('puts the resource URI in the name only with resourceUriInSpanName', async () => {
    const { client, setup } = await connectOtelPair({ sink: { resourceUriInSpanName: true } });
    await client.readResource({ uri: 'file:///readme.md' });
    const spans = await setup.spans();
    expect(theSpan(spans, 'resources/read file:///readme.md', CLIENT)).toBeDefined();
    expect(theSpan(spans, 'resources/read file:///readme.md', SERVER)).toBeDefined();
    expect(spansNamed(spans, 'resources/read')).toEqual([]);
  });
});

describe('span attributes', () => {
  it('sets every attribute of a tools/call, on both sides, and nothing else', async () => {
    const pair = await connectOtelPair();
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const spans = await pair.setup.spans();
    const sent = theSpan(spans, 'tools/call echo', CLIENT);
    const received = theSpan(spans, 'tools/call echo', SERVER);
    const id = sent.attributes['jsonrpc.request.id'];
    expect(typeof id).toBe('string');
    expect(id).toMatch(/^\d+$/);
    const protocolVersion = sent.attributes['mcp.protocol.version'];
    expect(protocolVersion).toMatch(VERSION);
    const common = {
      'mcp.method.name': 'tools/call',
      'jsonrpc.request.id': id,
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.protocol.version': protocolVersion,
    };
    // In-memory: no network.* (the spec only defines them for stdio and HTTP).
    expect(sent.attributes).toEqual({
      ...common,
      'mcp.session.id': await pair.sessionOf('client'),
    });
    expect(received.attributes).toEqual({
      ...common,
      'mcp.session.id': await pair.sessionOf('server'),
    });
    for (const span of [sent, received]) expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('sets gen_ai.prompt.name, mcp.resource.uri, and execute_tool only on tools/call', async () => {
    const pair = await connectOtelPair();
    await pair.client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    await pair.client.readResource({ uri: 'file:///readme.md' });
    await pair.client.listTools();
    const spans = await pair.setup.spans();
    const serverSession = await pair.sessionOf('server');

    const prompt = theSpan(spans, 'prompts/get greet', SERVER);
    expect(prompt.attributes).toMatchObject({
      'mcp.method.name': 'prompts/get',
      'gen_ai.prompt.name': 'greet',
      'mcp.session.id': serverSession,
    });
    const read = theSpan(spans, 'resources/read', SERVER);
    expect(read.attributes).toMatchObject({
      'mcp.method.name': 'resources/read',
      'mcp.resource.uri': 'file:///readme.md',
    });
    for (const span of spans) {
      if (span.attributes['mcp.method.name'] === 'tools/call') continue;
      expect(span.attributes['gen_ai.operation.name'], span.name).toBeUndefined();
      expect(span.attributes['gen_ai.tool.name'], span.name).toBeUndefined();
    }
    expect(prompt.attributes['mcp.resource.uri']).toBeUndefined();
    expect(read.attributes['gen_ai.prompt.name']).toBeUndefined();
  });

  it('gives initialize its request id, and its session and protocol version once known', async () => {
    const pair = await connectOtelPair();
    const spans = await pair.setup.spans();
    for (const [kind, role] of [
      [CLIENT, 'client'],
      [SERVER, 'server'],
    ] as const) {
      const init = theSpan(spans, 'initialize', kind);
      expect(init.attributes).toEqual({
        'mcp.method.name': 'initialize',
        'jsonrpc.request.id': '0',
        'mcp.session.id': await pair.sessionOf(role),
        'mcp.protocol.version': expect.stringMatching(VERSION),
      });
    }
  });

  it('gives notifications no jsonrpc.request.id', async () => {
    const pair = await connectOtelPair();
    const spans = await pair.setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const note = theSpan(spans, 'notifications/initialized', kind);
      expect(note.attributes['mcp.method.name']).toBe('notifications/initialized');
      expect(note.attributes).not.toHaveProperty('jsonrpc.request.id');
      expect(note.attributes['mcp.session.id']).toBeDefined();
    }
  });

  it('over Streamable HTTP: network.transport tcp, network.protocol.*, client address and port', async () => {
    const setup = otelBus();
    const host = await startOtelHttpHost(setup.bus);
    onCleanup(() => host.close());
    const client = instrument(createTestClient(), { bus: setup.bus, heartbeatIntervalMs: 0 });
    await client.connect(new StreamableHTTPClientTransport(host.url), {
      timeout: REQUEST_TIMEOUT_MS,
    });
    onCleanup(() => client.close());
    await client.callTool({ name: 'echo', arguments: { text: 'over http' } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const spans = await setup.spans();

    const received = theSpan(spans, 'tools/call echo', SERVER);
    expect(received.attributes).toMatchObject({
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'network.protocol.version': '1.1',
      'client.address': expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      'client.port': expect.any(Number),
    });
    // Stateless HTTP has no session.
    expect(received.attributes).not.toHaveProperty('mcp.session.id');

    const sent = theSpan(spans, 'tools/call echo', CLIENT);
    expect(sent.attributes).toMatchObject({
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    });
    // client.* describes the peer of a server; never on the client's own span.
    expect(sent.attributes).not.toHaveProperty('client.address');
    expect(isChildOf(received, sent)).toBe(true);
  });
});

describe('errors', () => {
  it('a tool_error result: error.type tool_error, status ERROR with the tool’s text, no status code', async () => {
    const { client, setup } = await connectOtelPair();
    const result = await client.callTool({ name: 'fail' });
    expect(result.isError).toBe(true);
    const spans = await setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const span = theSpan(spans, 'tools/call fail', kind);
      expect(span.attributes['error.type']).toBe('tool_error');
      expect(span.attributes).not.toHaveProperty('rpc.response.status_code');
      expect(span.status).toEqual({
        code: SpanStatusCode.ERROR,
        message: 'the tool failed on purpose',
      });
    }
  });

  it('a JSON-RPC error: error.type and rpc.response.status_code are the code, the message is the description', async () => {
    const { client, setup } = await connectOtelPair({ server: erroringServer() });
    await expect(client.callTool({ name: 'boom' })).rejects.toThrow('the database is on fire');
    const spans = await setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const span = theSpan(spans, 'tools/call boom', kind);
      expect(span.attributes).toMatchObject({
        'error.type': '-32603',
        'rpc.response.status_code': '-32603',
      });
      expect(span.status).toEqual({
        code: SpanStatusCode.ERROR,
        message: 'the database is on fire',
      });
    }
  });

  it('-32602 is the caller’s mistake: an error on the client, not on the server (spans.yaml after PR #404)', async () => {
    const { client, setup } = await connectOtelPair({ server: erroringServer() });
    await expect(client.callTool({ name: 'invalid' })).rejects.toThrow('no such thing');
    const spans = await setup.spans();

    const sent = theSpan(spans, 'tools/call invalid', CLIENT);
    expect(sent.attributes).toMatchObject({
      'error.type': '-32602',
      'rpc.response.status_code': '-32602',
    });
    expect(sent.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'MCP error -32602: no such thing',
    });

    const received = theSpan(spans, 'tools/call invalid', SERVER);
    expect(received.attributes['rpc.response.status_code']).toBe('-32602');
    expect(received.attributes).not.toHaveProperty('error.type');
    expect(received.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a cancelled request ends both spans with error.type cancelled', async () => {
    const server = richServer();
    const { client, setup } = await connectOtelPair({ server });
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait' }, undefined, { signal: controller.signal });
    await server.started;
    controller.abort('the user gave up');
    await expect(call).rejects.toThrow();
    const spans = await setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const span = theSpan(spans, 'tools/call wait', kind);
      expect(span.attributes['error.type']).toBe('cancelled');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the user gave up' });
    }
    // The cancellation is a notification of its own, with spans both ways.
    const cancelSent = theSpan(spans, 'notifications/cancelled', CLIENT);
    expect(isChildOf(theSpan(spans, 'notifications/cancelled', SERVER), cancelSent)).toBe(true);
  });

  it('a transport closed under a pending request ends its spans with error.type closed', async () => {
    const server = richServer();
    const { client, setup } = await connectOtelPair({ server });
    const call = client.callTool({ name: 'wait' });
    await server.started;
    await client.close();
    await expect(call).rejects.toThrow();
    const spans = await setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const span = theSpan(spans, 'tools/call wait', kind);
      expect(span.attributes['error.type']).toBe('closed');
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.status.message).toMatch(/closed/);
    }
  });
});

describe('notifications and progress', () => {
  it('a server→client notification: CLIENT span on the server, SERVER span on the client', async () => {
    const pair = await connectOtelPair();
    const server = pair.server as McpServer;
    const changed = deferred();
    pair.client.setNotificationHandler(
      z.object({ method: z.literal('notifications/tools/list_changed') }).passthrough(),
      () => changed.resolve(),
    );
    // Registering a tool on a connected McpServer sends notifications/tools/list_changed.
    server.registerTool('late', { description: 'Registered after connect' }, () => ({
      content: [],
    }));
    await changed.promise;
    const spans = await pair.setup.spans();
    const sent = theSpan(spans, 'notifications/tools/list_changed', CLIENT);
    const received = theSpan(spans, 'notifications/tools/list_changed', SERVER);
    expect(sent.attributes['mcp.session.id']).toBe(await pair.sessionOf('server'));
    expect(received.attributes['mcp.session.id']).toBe(await pair.sessionOf('client'));
    expect(isChildOf(received, sent)).toBe(true);
  });

  it('progress notifications become mcp.progress events on the request span, both sides', async () => {
    const { client, setup } = await connectOtelPair({ server: richServer() });
    const seen: unknown[] = [];
    const result = await client.callTool({ name: 'progress' }, undefined, {
      onprogress: (progress) => seen.push(progress),
    });
    expect(result.content).toEqual([{ type: 'text', text: 'progressed' }]);
    expect(seen).toHaveLength(2);
    const spans = await setup.spans();
    for (const kind of [CLIENT, SERVER]) {
      const span = theSpan(spans, 'tools/call progress', kind);
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'mcp.progress',
          {
            'mcp.progress.progress': 1,
            'mcp.progress.total': 2,
            'mcp.progress.message': 'half way',
          },
        ],
        ['mcp.progress', { 'mcp.progress.progress': 2, 'mcp.progress.total': 2 }],
      ]);
    }
    // The notifications themselves have spans too, sent by the server.
    expect(spansNamed(spans, 'notifications/progress', CLIENT)).toHaveLength(2);
    expect(spansNamed(spans, 'notifications/progress', SERVER)).toHaveLength(2);
  });
});

describe('nesting under the span of a running handler', () => {
  it('a span started inside a tool handler is a child of the tools/call SERVER span', async () => {
    const setup = otelBus();
    const appProvider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: setup.exporter })],
    });
    const tracer = appProvider.getTracer('app');
    const server = createTestServer();
    server.registerTool('query', { description: 'Runs a query' }, async () => {
      const rows = await tracer.startActiveSpan('SELECT customers', async (span) => {
        await new Promise((resolve) => setImmediate(resolve));
        span.end();
        return 3;
      });
      return { content: [{ type: 'text', text: `${rows} rows` }] };
    });
    const { client } = await connectOtelPair({ setup, server });
    await client.callTool({ name: 'query' });
    await appProvider.forceFlush();
    const spans = await setup.spans();
    const child = theSpan(spans, 'SELECT customers', SpanKind.INTERNAL);
    const handler = theSpan(spans, 'tools/call query', SERVER);
    expect(isChildOf(child, handler)).toBe(true);
    // ...and through _meta, the whole thing is one trace from the client's span.
    expect(isChildOf(handler, theSpan(spans, 'tools/call query', CLIENT))).toBe(true);
  });

  it('a sampling request a tool sends is a CLIENT span, child of the tool’s SERVER span', async () => {
    const server = createTestServer();
    server.registerTool('summarise', { description: 'Asks the client’s model' }, async (extra) => {
      const answer = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: {
            messages: [{ role: 'user', content: { type: 'text', text: 'summarise' } }],
            maxTokens: 10,
          },
        },
        CreateMessageResultSchema,
      );
      return { content: [answer.content] };
    });
    const client = new Client(
      { name: 'claude-ai', version: '0.9.0' },
      { capabilities: { sampling: {} } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, () => ({
      model: 'test-model',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'short' },
    }));
    const pair = await connectOtelPair({ server, client });
    const result = await client.callTool({ name: 'summarise' });
    expect(result.content).toEqual([{ type: 'text', text: 'short' }]);
    const spans = await pair.setup.spans();

    const tool = theSpan(spans, 'tools/call summarise', SERVER);
    const asked = theSpan(spans, 'sampling/createMessage', CLIENT);
    const answered = theSpan(spans, 'sampling/createMessage', SERVER);
    expect(isChildOf(asked, tool)).toBe(true);
    expect(isChildOf(answered, asked)).toBe(true);
    // The server sent it (its session), the client handled it (its session).
    expect(asked.attributes['mcp.session.id']).toBe(await pair.sessionOf('server'));
    expect(answered.attributes['mcp.session.id']).toBe(await pair.sessionOf('client'));
    expect(asked.attributes['mcp.method.name']).toBe('sampling/createMessage');
    expect(asked.attributes).not.toHaveProperty('gen_ai.operation.name');
  });
});

describe('schema versions as span events', () => {
  it('puts mcp.schema.version_created on the tools/list span that produced it (no payload by default)', async () => {
    const pair = await connectOtelPair();
    await pair.client.listTools();
    const server = pair.server as McpServer;
    server.registerTool('added-later', { description: 'New' }, () => ({ content: [] }));
    await pair.client.listTools();
    const spans = await pair.setup.spans();

    const lists = spansNamed(spans, 'tools/list', SERVER);
    expect(lists).toHaveLength(2);
    const [first, second] = lists.map((span) =>
      span.events.filter((e) => e.name === 'mcp.schema.version_created'),
    );
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    const v1 = first![0]!.attributes!;
    const v2 = second![0]!.attributes!;
    expect(v1).toEqual({
      'mcp.schema.method': 'tools/list',
      'mcp.schema.version': 1,
      'mcp.schema.version_id': expect.stringMatching(HEX16),
      'mcp.schema.content_hash': expect.stringMatching(HEX64),
      'mcp.schema.added': [],
      'mcp.schema.removed': [],
      'mcp.schema.modified': [],
    });
    expect(v2).toMatchObject({
      'mcp.schema.method': 'tools/list',
      'mcp.schema.version': 2,
      'mcp.schema.added': ['added-later'],
      'mcp.schema.removed': [],
      'mcp.schema.modified': [],
    });
    expect(v2['mcp.schema.version_id']).not.toBe(v1['mcp.schema.version_id']);
    expect(
      String(v1['mcp.schema.content_hash']).startsWith(String(v1['mcp.schema.version_id'])),
    ).toBe(true);

    // The event on the span matches the bus's schema_version_created event.
    await pair.setup.bus.flush();
    const versions = pair.setup.events.ofType('schema_version_created');
    expect(versions.map((v) => v.versionId)).toEqual([
      v1['mcp.schema.version_id'],
      v2['mcp.schema.version_id'],
    ]);
  });
});

describe('sessions as resources', () => {
  it('spans of a session carry the session and its client in their Resource', async () => {
    const pair = await connectOtelPair();
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const spans = await pair.setup.spans();
    expect(pair.setup.otel.pipelineKind).toBe('own');
    for (const [kind, role] of [
      [SERVER, 'server'],
      [CLIENT, 'client'],
    ] as const) {
      const span = theSpan(spans, 'tools/call echo', kind);
      expect(span.resource.attributes).toMatchObject({
        'mcp.session.id': await pair.sessionOf(role),
        'mcp.client.name': 'claude-ai',
        'mcp.client.version': '0.9.0',
        'mcp.client.platform': 'claude',
        'mcp.protocol.version': expect.stringMatching(VERSION),
        'service.name': 'test-server',
        'telemetry.sdk.language': 'nodejs',
      });
      // On spans, only what the spec puts there.
      expect(span.attributes).not.toHaveProperty('mcp.client.name');
    }
  });

  it('the initialize span opens the session’s Resource; later spans carry the negotiated version', async () => {
    const setup = otelBus();
    const server = instrument(createTestServer(), { bus: setup.bus, heartbeatIntervalMs: 0 });
    const [peer, transport] = InMemoryTransport.createLinkedPair();
    const answers: JSONRPCMessage[] = [];
    peer.onmessage = (message) => answers.push(message);
    await server.connect(transport);
    onCleanup(() => server.close());
    await peer.send({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '1999-01-01',
        capabilities: {},
        clientInfo: { name: 'cursor', version: '3.1.0' },
      },
    });
    // As a real client does: nothing else until initialize is answered.
    await vi.waitFor(() => expect(answers).toHaveLength(1));
    await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await peer.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await vi.waitFor(() => expect(answers).toHaveLength(2));
    const negotiated = (answers[0] as unknown as { result: { protocolVersion: string } }).result
      .protocolVersion;
    expect(negotiated).toMatch(VERSION);
    expect(negotiated).not.toBe('1999-01-01');
    const spans = await setup.spans();

    const init = theSpan(spans, 'initialize', SERVER);
    const list = theSpan(spans, 'tools/list', SERVER);
    const sessionId = init.resource.attributes['mcp.session.id'];
    expect(sessionId).toBe(setup.events.ofType('session_start')[0]!.sessionId);
    expect(init.resource.attributes).toMatchObject({
      'mcp.client.name': 'cursor',
      'mcp.client.version': '3.1.0',
      'mcp.client.platform': 'cursor',
      'service.name': 'test-server',
    });
    expect(list.resource.attributes).toMatchObject({
      'mcp.session.id': sessionId,
      'mcp.client.name': 'cursor',
      'mcp.protocol.version': negotiated,
      'service.name': 'test-server',
    });
    expect(list.attributes['mcp.protocol.version']).toBe(negotiated);
    // The initialize span reports the version the session uses, not the one asked for.
    expect(init.attributes['mcp.protocol.version']).toBe(negotiated);
  });

  it('two sessions get two resources; the spans of one session share one', async () => {
    const setup = otelBus();
    const a = await connectOtelPair({ setup, client: createTestClient('claude-ai') });
    const b = await connectOtelPair({
      setup,
      server: createTestServer(),
      client: createTestClient('cursor'),
    });
    await a.client.callTool({ name: 'echo', arguments: { text: 'a' } });
    await b.client.callTool({ name: 'echo', arguments: { text: 'b' } });
    await a.client.listTools();
    const spans = await setup.spans();
    const served = spans.filter(
      (s) => s.kind === SERVER && s.resource.attributes['mcp.session.id'] !== undefined,
    );
    const byClient = (name: string): ReadableSpan[] =>
      served.filter((s) => s.resource.attributes['mcp.client.name'] === name);
    const ofA = byClient('claude-ai');
    const ofB = byClient('cursor');
    expect(ofA.map((s) => s.name)).toEqual(
      expect.arrayContaining(['tools/call echo', 'tools/list']),
    );
    expect(ofB.map((s) => s.name)).toContain('tools/call echo');
    expect(new Set(ofA.map((s) => s.resource)).size).toBe(1);
    expect(new Set(ofB.map((s) => s.resource)).size).toBe(1);
    expect(ofA[0]!.resource).not.toBe(ofB[0]!.resource);
    expect(ofA[0]!.resource.attributes['mcp.session.id']).not.toBe(
      ofB[0]!.resource.attributes['mcp.session.id'],
    );
    expect(ofB[0]!.resource.attributes['mcp.client.platform']).toBe('cursor');
  });

  it('releases a session’s tracer when the session ends', async () => {
    const pair = await connectOtelPair();
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await pair.setup.bus.flush();
    // One session on each side of the pair.
    expect(pair.setup.otel.sessionTracers).toBe(2);
    await pair.client.close();
    await pair.setup.bus.flush();
    expect(pair.setup.events.ofType('session_end')).toHaveLength(2);
    expect(pair.setup.otel.sessionTracers).toBe(0);
  });

  it('10,000 sessions opened and closed leave no session tracer behind', async () => {
    const setup = otelBus();
    const started = performance.now();
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      const [peer, transport] = InMemoryTransport.createLinkedPair();
      instrumentTransport(transport, { bus: setup.bus, heartbeatIntervalMs: 0 });
      transport.onmessage = (message: JSONRPCMessage) => {
        if ('method' in message && message.method === 'initialize' && 'id' in message) {
          void transport.send({
            jsonrpc: '2.0',
            id: message.id,
            result: {
              protocolVersion: '2025-06-18',
              capabilities: {},
              serverInfo: { name: 'leak-check', version: '1.0.0' },
            },
          });
        }
      };
      await peer.send({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: `client-${i}`, version: '1.0.0' },
        },
      });
      // The first message of the open session takes a session tracer.
      await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      peak = Math.max(peak, setup.otel.sessionTracers);
      await transport.close();
      if (i % 1_000 === 999) await setup.bus.flush();
    }
    await setup.bus.flush();
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(setup.otel.sessionTracers).toBe(0);
    expect(setup.events.ofType('session_end').length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('with a user’s tracerProvider, the session keys go on spans instead (pipelineKind provided)', async () => {
    const setup = providedSetup(new AlwaysOnSampler());
    expect(setup.otel.pipelineKind).toBe('provided');
    const pair = await connectOtelPair({ setup });
    await pair.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const spans = await setup.spans();
    for (const [kind, role] of [
      [SERVER, 'server'],
      [CLIENT, 'client'],
    ] as const) {
      const span = theSpan(spans, 'tools/call echo', kind);
      expect(span.attributes).toMatchObject({
        'mcp.session.id': await pair.sessionOf(role),
        'mcp.client.name': 'claude-ai',
        'mcp.client.version': '0.9.0',
        'mcp.client.platform': 'claude',
        'mcp.protocol.version': expect.stringMatching(VERSION),
      });
      // The user's resource is left alone.
      expect(span.resource.attributes).not.toHaveProperty('mcp.session.id');
      expect(span.resource.attributes).not.toHaveProperty('mcp.client.name');
    }
    expect(setup.otel.sessionTracers).toBe(0);
  });
});

describe('sampling off', () => {
  it('exports no spans and leaves the host’s calls working', async () => {
    // The same setup, sampled, exports spans: so "no spans" below is the sampler's doing.
    const control = providedSetup(new AlwaysOnSampler());
    const controlPair = await connectOtelPair({ setup: control });
    await controlPair.client.callTool({ name: 'echo', arguments: { text: 'sampled' } });
    expect(theSpan(await control.spans(), 'tools/call echo', SERVER)).toBeDefined();

    const setup = providedSetup(new AlwaysOffSampler());
    const { client } = await connectOtelPair({ setup, server: richServer() });
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'still here' }]);
    const progressed = await client.callTool({ name: 'progress' }, undefined, {
      onprogress: () => undefined,
    });
    expect(progressed.content).toEqual([{ type: 'text', text: 'progressed' }]);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(await setup.spans()).toEqual([]);
    // Events still flow to other sinks.
    expect(setup.events.ofType('request').filter((e) => e.mcpMethod === 'tools/call')).toHaveLength(
      4,
    );
  });
});

describe('a live hook that throws', () => {
  type Hook = 'start' | 'run' | 'inject' | 'progress' | 'end';

  /** Live hooks that work, except `broken`, which throws every time (calls counted). */
  function throwingSink(broken: Hook, calls: Record<Hook, number>): EventSink {
    const fail = (hook: Hook): void => {
      calls[hook]++;
      if (hook === broken) throw new Error(`${hook} hook broke`);
    };
    const live: LiveHooks<{ readonly token: true }> = {
      start: () => {
        fail('start');
        return { token: true };
      },
      run: (_token, fn) => {
        fail('run');
        return fn();
      },
      inject: (_token, message) => {
        fail('inject');
        return { ...message };
      },
      progress: () => fail('progress'),
      end: () => fail('end'),
    };
    return { name: 'throwing', live: live, onEvent: () => undefined };
  }

  /** What the host sees of a fixed conversation. */
  async function converse(client: Client): Promise<unknown[]> {
    const seen: unknown[] = [];
    return [
      await client.callTool({ name: 'echo', arguments: { text: 'héllo' } }),
      await client.callTool({ name: 'fail' }),
      await client.callTool({ name: 'progress' }, undefined, {
        onprogress: (p) => seen.push(p),
      }),
      await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } }),
      await client.readResource({ uri: 'file:///readme.md' }),
      (await client.listTools()).tools.map((t) => t.name),
      seen,
    ];
  }

  async function reference(): Promise<unknown[]> {
    const server = richServer();
    const client = createTestClient();
    const [a, b] = linkedPair();
    await server.connect(b);
    await client.connect(a);
    onCleanup(() => client.close());
    return converse(client);
  }

  for (const broken of ['start', 'run', 'inject', 'progress', 'end'] as const) {
    it(`${broken}: the host's calls succeed with identical results and other sinks get events`, async () => {
      const expected = await reference();
      const reported: string[] = [];
      setDiagnosticLogger({ warn: () => undefined, error: (m) => reported.push(m) });
      const calls: Record<Hook, number> = { start: 0, run: 0, inject: 0, progress: 0, end: 0 };
      const events = createMemorySink();
      const bus = new EventBus({ sinks: [throwingSink(broken, calls), events] });
      onCleanup(() => bus.shutdown());
      const server = instrument(richServer(), { bus, heartbeatIntervalMs: 0 });
      const client = instrument(createTestClient(), { bus, heartbeatIntervalMs: 0 });
      const [a, b] = linkedPair();
      await server.connect(b);
      await client.connect(a);
      onCleanup(() => client.close());

      expect(await converse(client)).toEqual(expected);
      await bus.flush();
      expect(calls[broken]).toBeGreaterThan(0);
      expect(reported.some((m) => m.includes(`${broken} hook broke`))).toBe(true);
      const calls2 = events.ofType('request').filter((e) => e.mcpMethod === 'tools/call');
      expect(calls2).toHaveLength(6);
      expect(calls2.filter((e) => e.tool === 'fail').map((e) => e.note)).toEqual([
        'tool_error',
        'tool_error',
      ]);
    });
  }

  it('run: a hook that returns without running the handler does not swallow the message', async () => {
    const expected = await reference();
    setDiagnosticLogger({ warn: () => undefined, error: () => undefined });
    let runs = 0;
    const live: LiveHooks<object> = {
      start: () => ({}),
      run: <R>(): R => {
        runs++;
        return undefined as R;
      },
      end: () => undefined,
    };
    const bus = new EventBus({
      sinks: [{ name: 'lazy-run', live: live, onEvent: () => undefined }],
    });
    onCleanup(() => bus.shutdown());
    const server = instrument(richServer(), { bus, heartbeatIntervalMs: 0 });
    const client = instrument(createTestClient(), { bus, heartbeatIntervalMs: 0 });
    const [a, b] = linkedPair();
    await server.connect(b);
    await client.connect(a, { timeout: 1_000 });
    onCleanup(() => client.close());
    expect(await converse(client)).toEqual(expected);
    expect(runs).toBeGreaterThan(0);
  });

  it('run: a hook that throws after running the handler does not fail the host', async () => {
    const expected = await reference();
    setDiagnosticLogger({ warn: () => undefined, error: () => undefined });
    let ran = 0;
    const live: LiveHooks<object> = {
      start: () => ({}),
      run: (_token, fn) => {
        const result = fn();
        ran++;
        if (ran > 0) throw new Error('run hook broke after the handler');
        return result;
      },
      end: () => undefined,
    };
    const events = createMemorySink();
    const bus = new EventBus({
      sinks: [{ name: 'late-throw', live: live, onEvent: () => undefined }, events],
    });
    onCleanup(() => bus.shutdown());
    const server = instrument(richServer(), { bus, heartbeatIntervalMs: 0 });
    const client = instrument(createTestClient(), { bus, heartbeatIntervalMs: 0 });
    const [a, b] = linkedPair();
    await server.connect(b);
    await client.connect(a);
    onCleanup(() => client.close());
    expect(await converse(client)).toEqual(expected);
    expect(ran).toBeGreaterThan(0);
  });
});

describe('the OTel sink alone on a bus (no sink takes request events)', () => {
  it('exports the same spans, attributes and statuses as with an event sink beside it', async () => {
    const run = async (alone: boolean) => {
      const exporter = new InMemorySpanExporter();
      const otel = createOtelSink({ spanExporter: exporter });
      const bus = new EventBus({ sinks: alone ? [otel] : [otel, createMemorySink()] });
      onCleanup(() => bus.shutdown());
      expect(bus.wants('request')).toBe(!alone);
      await connectOtelPair({
        setup: {
          exporter,
          otel,
          events: createMemorySink(),
          bus,
          spans: async () => {
            await bus.flush();
            return exporter.getFinishedSpans();
          },
        },
      }).then(async ({ client }) => {
        await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
        await client.callTool({ name: 'fail', arguments: {} });
        await client.ping();
      });
      await bus.flush();
      return exporter
        .getFinishedSpans()
        .map((s) => ({
          name: s.name,
          kind: s.kind,
          status: s.status,
          keys: Object.keys(s.attributes).sort(),
          method: s.attributes['mcp.method.name'],
          error: s.attributes['error.type'],
        }))
        .sort((a, b) => `${a.name}${a.kind}`.localeCompare(`${b.name}${b.kind}`));
    };
    const alone = await run(true);
    expect(alone.length).toBeGreaterThanOrEqual(8);
    expect(alone).toContainEqual(
      expect.objectContaining({ name: 'tools/call fail', kind: SERVER, error: 'tool_error' }),
    );
    expect(alone).toEqual(await run(false));
  });

  it('activeContextMeta lists only the members injectActiveContext would set', () => {
    const { otel } = otelBus();
    const tracer = new TracerProvider().getTracer('t');
    const span = tracer.startSpan('parent');
    context.with(trace.setSpan(context.active(), span), () => {
      const bare = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } };
      const changes = otel.activeContextMeta(bare);
      expect(changes?.map(([key]) => key)).toEqual(['traceparent']);
      const injected = otel.injectActiveContext(bare) as { params: { _meta: object } };
      expect(Object.entries(injected.params._meta)).toEqual(changes);
      // Already there with the same value: nothing to set, and no copy.
      const carried = { ...bare, params: { ...bare.params, _meta: injected.params._meta } };
      expect(otel.activeContextMeta(carried)).toBeUndefined();
      expect(otel.injectActiveContext(carried)).toBe(carried);
      // No place for _meta: positional params, or a _meta that is not an object.
      expect(otel.activeContextMeta({ ...bare, params: [1] })).toBeUndefined();
      expect(otel.activeContextMeta({ ...bare, params: { _meta: 'x' } })).toBeUndefined();
    });
    span.end();
  });
});
