import { afterEach, describe, expect, it, vi } from 'vitest';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CreateMessageRequestSchema,
  ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  EventBus,
  createMemorySink,
  instrument,
  instrumentTransport,
  type EventSink,
  type MemorySink,
  type RequestEvent,
} from '../../src/index.js';
import { createTestClient, createTestServer, linkedPair } from '../helpers/v1.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let bus: EventBus;
let sink: MemorySink;
const cleanups: Array<() => Promise<void>> = [];

function setup(busOptions: ConstructorParameters<typeof EventBus>[0] = {}) {
  sink = createMemorySink();
  bus = new EventBus({ sinks: [sink], ...busOptions });
  cleanups.push(() => bus.shutdown());
  return { bus, sink };
}

async function connectPair(
  server: McpServer | Server = createTestServer(),
  client: Client = createTestClient(),
  options: { instrumentClient?: boolean } = {},
) {
  instrument(server, { bus, heartbeatIntervalMs: 0 });
  if (options.instrumentClient !== false) instrument(client, { bus, heartbeatIntervalMs: 0 });
  const [clientTransport, serverTransport] = linkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  cleanups.push(() => client.close());
  return { server, client, clientTransport, serverTransport };
}

function requests(role?: 'server' | 'client'): RequestEvent[] {
  return sink.ofType('request').filter((e) => role === undefined || e.role === role);
}

function byMethod(method: string, role: 'server' | 'client'): RequestEvent[] {
  return requests(role).filter((e) => e.mcpMethod === method);
}

afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('in-memory: a real McpServer and Client', () => {
  it('emits session_start on both sides with client and server info', async () => {
    setup();
    await connectPair();
    await bus.flush();
    const starts = sink.ofType('session_start');
    expect(starts).toHaveLength(2);
    const [serverSide, clientSide] = [
      starts.find((s) => s.role === 'server')!,
      starts.find((s) => s.role === 'client')!,
    ];
    for (const start of [serverSide, clientSide]) {
      expect(start).toMatchObject({
        server: 'test-server',
        clientName: 'claude-ai',
        clientVersion: '0.9.0',
        clientPlatform: 'claude',
        transport: 'in-memory',
        serverName: 'test-server',
        serverVersion: '1.2.3',
      });
      expect(start.sessionId).toMatch(UUID);
      expect(start.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Math.abs(start.ts - Date.now())).toBeLessThan(5_000);
    }
    // Each end of the connection is its own session, with its own id.
    expect(serverSide.sessionId).not.toBe(clientSide.sessionId);
  });

  it('records a tools/call on both sides with every field', async () => {
    setup();
    const { client } = await connectPair();
    const before = Date.now();
    const result = await client.callTool({ name: 'echo', arguments: { text: 'héllo' } });
    expect(result.content).toEqual([{ type: 'text', text: 'héllo' }]);
    await bus.flush();
    const [serverEvent] = byMethod('tools/call', 'server');
    const [clientEvent] = byMethod('tools/call', 'client');
    expect(serverEvent).toBeDefined();
    expect(clientEvent).toBeDefined();
    const sessionOf = (role: 'server' | 'client') =>
      sink.ofType('session_start').find((s) => s.role === role)!.sessionId;
    for (const [event, role] of [
      [serverEvent!, 'server'],
      [clientEvent!, 'client'],
    ] as const) {
      expect(event).toMatchObject({
        type: 'request',
        server: 'test-server',
        role,
        transport: 'in-memory',
        mcpMethod: 'tools/call',
        tool: 'echo',
        note: 'ok',
        clientName: 'claude-ai',
        clientVersion: '0.9.0',
        clientPlatform: 'claude',
        sessionId: sessionOf(role),
      });
      expect(event.id).toMatch(UUID);
      expect(event.jsonrpcId).toMatch(/^\d+$/);
      expect(event.ts).toBeGreaterThanOrEqual(before - 1);
      expect(event.latencyUs).toBeGreaterThanOrEqual(0);
      expect(event.latencyUs).toBeLessThan(5_000_000);
      expect(event.errorCode).toBeUndefined();
      expect(event.httpMethod).toBeUndefined();
    }
    // Sizes are the UTF-8 byte length of the message as serialised.
    const request = {
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'héllo' } },
      jsonrpc: '2.0',
      id: Number(clientEvent!.jsonrpcId),
    };
    expect(clientEvent!.requestSize).toBe(Buffer.byteLength(JSON.stringify(request)));
    expect(serverEvent!.requestSize).toBe(clientEvent!.requestSize);
    expect(serverEvent!.responseSize).toBe(clientEvent!.responseSize);
    expect(serverEvent!.responseSize).toBeGreaterThan(20);
    // JSON-serialisable as they are.
    expect(JSON.parse(JSON.stringify(serverEvent))).toEqual(
      Object.fromEntries(Object.entries(serverEvent!).filter(([, v]) => v !== undefined)),
    );
  });

  it('captures isError tool results as tool_error with the tool text', async () => {
    setup();
    const { client } = await connectPair();
    const result = await client.callTool({ name: 'fail', arguments: {} });
    expect(result.isError).toBe(true);
    await bus.flush();
    for (const role of ['server', 'client'] as const) {
      expect(byMethod('tools/call', role)[0]).toMatchObject({
        note: 'tool_error',
        tool: 'fail',
        errorMsg: 'the tool failed on purpose',
      });
    }
  });

  it('records JSON-RPC errors with code and message, capped at 512 characters', async () => {
    setup();
    const server = createTestServer();
    server.registerTool('boom', { description: 'throws an McpError' }, () => {
      throw new Error('x'.repeat(2_000));
    });
    const { client } = await connectPair(server);
    // Unknown prompt → the SDK answers with a JSON-RPC error (invalid params).
    await expect(client.getPrompt({ name: 'nope' })).rejects.toThrow();
    await bus.flush();
    const [serverEvent] = byMethod('prompts/get', 'server');
    expect(serverEvent).toMatchObject({ note: 'error', prompt: 'nope', errorCode: '-32602' });
    expect(serverEvent!.errorMsg).toContain('nope');
    const [clientEvent] = byMethod('prompts/get', 'client');
    expect(clientEvent).toMatchObject({ note: 'error', errorCode: '-32602' });

    // A tool that throws is reported by the SDK as an isError result; its text is capped.
    await client.callTool({ name: 'boom', arguments: {} });
    await bus.flush();
    const boom = byMethod('tools/call', 'server').find((e) => e.tool === 'boom')!;
    expect(boom.note).toBe('tool_error');
    expect(boom.errorMsg!.length).toBe(512);
  });

  it('records prompts/get and resources/read targets', async () => {
    setup();
    const { client } = await connectPair();
    await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    await client.readResource({ uri: 'file:///readme.md' });
    await bus.flush();
    expect(byMethod('prompts/get', 'server')[0]).toMatchObject({ prompt: 'greet', note: 'ok' });
    expect(byMethod('resources/read', 'server')[0]).toMatchObject({
      resourceUri: 'file:///readme.md',
      note: 'ok',
    });
    expect(byMethod('resources/read', 'server')[0]!.tool).toBeUndefined();
  });

  it('records notifications in both directions with note notification', async () => {
    setup();
    await connectPair();
    await bus.flush();
    const initialized = requests().filter((e) => e.mcpMethod === 'notifications/initialized');
    expect(initialized.map((e) => e.role).sort()).toEqual(['client', 'server']);
    for (const event of initialized) {
      expect(event).toMatchObject({ note: 'notification', latencyUs: 0 });
      expect(event.jsonrpcId).toBeUndefined();
      expect(event.requestSize).toBeGreaterThan(0);
    }
  });

  it('ends a cancelled request with note cancelled on both sides', async () => {
    setup();
    const { client } = await connectPair();
    const controller = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 10_000 } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort('user gave up');
    await expect(call).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    await bus.flush();
    for (const role of ['server', 'client'] as const) {
      const [event] = byMethod('tools/call', role);
      expect(event).toMatchObject({ note: 'cancelled', tool: 'slow' });
    }
    const cancels = requests().filter((e) => e.mcpMethod === 'notifications/cancelled');
    expect(cancels.map((e) => e.role).sort()).toEqual(['client', 'server']);
  });

  it('ends pending requests with note closed when the transport closes', async () => {
    setup();
    const { client, serverTransport } = await connectPair();
    const calls = [1, 2, 3].map(() =>
      client.callTool({ name: 'slow', arguments: { ms: 10_000 } }).catch((e: unknown) => e),
    );
    await new Promise((resolve) => setImmediate(resolve));
    await serverTransport.close();
    await Promise.all(calls);
    await bus.flush();
    for (const role of ['server', 'client'] as const) {
      const events = byMethod('tools/call', role);
      expect(events.map((e) => e.note)).toEqual(['closed', 'closed', 'closed']);
    }
    const ends = sink.ofType('session_end');
    expect(ends).toHaveLength(2);
    for (const end of ends) {
      expect(end).toMatchObject({ reason: 'closed', transport: 'in-memory' });
      // initialize + three closed calls (notifications are not requests)
      expect(end.requestCount).toBe(4);
      expect(end.errorCount).toBe(3);
      expect(end.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('correlates a server→client sampling request (role client on the server side)', async () => {
    setup();
    const server = createTestServer();
    server.registerTool('summarise', { description: 'asks the client to sample' }, async () => {
      const reply = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'summarise' } }],
        maxTokens: 10,
      });
      return { content: [{ type: 'text', text: JSON.stringify(reply.content) }] };
    });
    const client = new Client(
      { name: 'cursor', version: '1.0.0' },
      { capabilities: { sampling: {} } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, () => ({
      role: 'assistant',
      content: { type: 'text', text: 'short' },
      model: 'test-model',
    }));
    await connectPair(server, client);
    const result = await client.callTool({ name: 'summarise', arguments: {} });
    expect(JSON.stringify(result.content)).toContain('short');
    await bus.flush();
    // On the server, the sampling request is one it sent: role client.
    // On the client, it is one it received: role server.
    const [sent] = byMethod('sampling/createMessage', 'client');
    const [received] = byMethod('sampling/createMessage', 'server');
    expect(sent).toMatchObject({ note: 'ok', clientPlatform: 'cursor', server: 'test-server' });
    expect(received).toMatchObject({
      note: 'ok',
      clientPlatform: 'cursor',
      jsonrpcId: sent!.jsonrpcId,
    });
    expect(byMethod('sampling/createMessage', 'client')).toHaveLength(1);
    expect(byMethod('sampling/createMessage', 'server')).toHaveLength(1);
    // The sampling request happened inside the tools/call, which ends after it.
    const [call] = byMethod('tools/call', 'server');
    expect(call!.ts).toBeLessThanOrEqual(sent!.ts);
  });

  it('versions tools/list and detects a tool added at runtime', async () => {
    setup();
    const server = createTestServer();
    const { client } = await connectPair(server);
    await client.listTools();
    await client.listTools(); // same contract: no new version
    server.registerTool('added', { description: 'new', inputSchema: { n: z.number() } }, () => ({
      content: [],
    }));
    await new Promise((resolve) => setImmediate(resolve)); // list_changed goes out
    await client.listTools();
    await bus.flush();
    const versions = sink.ofType('schema_version_created');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(versions[0]).toMatchObject({ method: 'tools/list', server: 'test-server' });
    expect(versions[0]!.changes).toEqual({ added: [], removed: [], modified: [] });
    expect(versions[1]!.changes).toEqual({ added: ['added'], removed: [], modified: [] });
    expect(versions[1]!.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(versions[1]!.versionId).toBe(versions[1]!.contentHash.slice(0, 16));
    const tools = (versions[1]!.payload as { tools: Array<{ name: string }> }).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['added', 'echo', 'fail', 'slow']);
    expect(
      requests().some(
        (e) => e.mcpMethod === 'notifications/tools/list_changed' && e.role === 'client',
      ),
    ).toBe(true);
  });

  it('merges a paginated tools/list per session without mixing concurrent sessions', async () => {
    setup();
    // Two low-level servers with the same name, each answering tools/list in pages of 2.
    const makeServer = (last: string) => pagedServer(['a', 'b', 'c', last]);
    const first = await connectPair(makeServer('d'), createTestClient('one'));
    const second = await connectPair(makeServer('d'), createTestClient('two'));
    const listAll = async (client: Client) => {
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        names.push(...page.tools.map((t) => t.name));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return names;
    };
    const [a, b] = await Promise.all([listAll(first.client), listAll(second.client)]);
    expect(a).toEqual(['a', 'b', 'c', 'd']);
    expect(b).toEqual(['a', 'b', 'c', 'd']);
    await bus.flush();
    // The same contract from two sessions and both sides: exactly one version, all four tools.
    const versions = sink.ofType('schema_version_created');
    expect(versions).toHaveLength(1);
    const tools = (versions[0]!.payload as { tools: Array<{ name: string }> }).tools;
    expect(tools.map((t) => t.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(versions[0]!.payload).not.toHaveProperty('nextCursor');
  });

  it('isolates a sink that throws: the host and the other sinks are unaffected', async () => {
    const errors: string[] = [];
    const { setDiagnosticLogger } = await import('../../src/diagnostics.js');
    setDiagnosticLogger({ warn: (m) => errors.push(m), error: (m) => errors.push(m) });
    cleanups.push(() => Promise.resolve(setDiagnosticLogger(undefined)));
    const throwing: EventSink = {
      name: 'throwing',
      onEvent() {
        throw new Error('sink exploded');
      },
    };
    sink = createMemorySink();
    bus = new EventBus({ sinks: [throwing, sink] });
    cleanups.push(() => bus.shutdown());
    const { client } = await connectPair();
    const result = await client.callTool({ name: 'echo', arguments: { text: 'still fine' } });
    expect(result.content).toEqual([{ type: 'text', text: 'still fine' }]);
    await bus.flush();
    expect(byMethod('tools/call', 'server')).toHaveLength(1);
    expect(errors.some((m) => m.includes('sink exploded'))).toBe(true);
  });

  it('counts events dropped when the queue is full, and the host keeps working', async () => {
    setup({ maxQueueSize: 5 });
    const { client } = await connectPair();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.callTool({ name: 'echo', arguments: { text: `${i}` } }),
      ),
    );
    expect(results).toHaveLength(20);
    expect(bus.droppedEvents).toBeGreaterThan(0);
    await bus.flush();
    expect(sink.events.length).toBeLessThan(20 * 2 + 6);
  });

  it('never writes to stdout', async () => {
    const write = vi.spyOn(process.stdout, 'write');
    setup();
    const { client } = await connectPair();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await client.callTool({ name: 'fail', arguments: {} });
    await bus.flush();
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
  });

  it('emits heartbeats with real counters on its interval', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    sink = createMemorySink();
    bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
    cleanups.push(() => bus.shutdown());
    const server = instrument(createTestServer(), { bus, heartbeatIntervalMs: 1_000 });
    const client = createTestClient();
    const [clientTransport, serverTransport] = linkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    cleanups.push(() => client.close());
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    await client.callTool({ name: 'fail', arguments: {} });
    vi.advanceTimersByTime(1_000);
    await bus.flush();
    const [beat] = sink.ofType('heartbeat');
    expect(beat).toMatchObject({
      server: 'test-server',
      requestCount: 3, // initialize + two calls
      errorCount: 1,
      activeSessions: 1,
      inFlightRequests: 0,
      droppedEvents: 0,
    });
    expect(beat!.rssBytes).toBeGreaterThan(0);
    expect(beat!.heapUsedBytes).toBeGreaterThan(0);
    expect(beat!.eventLoopDelayMs).toBeGreaterThanOrEqual(0);
    expect(beat!.uptimeSecs).toBeGreaterThanOrEqual(0);
    vi.advanceTimersByTime(3_000);
    await bus.flush();
    expect(sink.ofType('heartbeat')).toHaveLength(4);
  });

  it('ends idle sessions, and expires requests never answered', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date', 'performance'] });
    setup({ flushIntervalMs: 0 });
    const server = instrument(createTestServer(), {
      bus,
      heartbeatIntervalMs: 0,
      sessionIdleTimeoutMs: 60_000,
      pendingRequestTimeoutMs: 30_000,
    });
    const client = createTestClient();
    const [clientTransport, serverTransport] = linkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    cleanups.push(() => client.close());
    // A request the server never answers: send it on the raw client transport.
    await clientTransport.send({
      jsonrpc: '2.0',
      id: 'lost',
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 1e9 } },
    });
    vi.advanceTimersByTime(45_000);
    await bus.flush();
    expect(byMethod('tools/call', 'server')).toMatchObject([
      { note: 'timeout', jsonrpcId: 'lost' },
    ]);
    vi.advanceTimersByTime(60_000);
    await bus.flush();
    expect(sink.ofType('session_end')).toMatchObject([{ reason: 'idle_timeout' }]);
    // Traffic after the idle end starts the same session again.
    await client.ping();
    await bus.flush();
    const starts = sink.ofType('session_start');
    expect(starts).toHaveLength(2);
    expect(starts[1]!.sessionId).toBe(starts[0]!.sessionId);
  });

  it('ends open sessions with reason shutdown when the bus shuts down', async () => {
    setup();
    await connectPair();
    await bus.shutdown();
    const ends = sink.ofType('session_end');
    expect(ends.map((e) => e.reason)).toEqual(['shutdown', 'shutdown']);
  });

  it('instrument() returns the same object, is idempotent, and wraps an already-connected server', async () => {
    setup();
    const server = createTestServer();
    const client = createTestClient();
    const [clientTransport, serverTransport] = linkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    cleanups.push(() => client.close());
    expect(instrument(server, { bus, heartbeatIntervalMs: 0 })).toBe(server);
    expect(instrument(server, { bus, heartbeatIntervalMs: 0 })).toBe(server);
    await client.callTool({ name: 'echo', arguments: { text: 'late' } });
    await bus.flush();
    expect(byMethod('tools/call', 'server')).toHaveLength(1);
  });

  it('instrumentTransport() works without instrument(), before or after connect', async () => {
    setup();
    const server = createTestServer();
    const client = createTestClient();
    const [clientTransport, serverTransport] = linkedPair();
    expect(instrumentTransport(serverTransport, { bus, heartbeatIntervalMs: 0 })).toBe(
      serverTransport,
    );
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    instrumentTransport(clientTransport, { bus, heartbeatIntervalMs: 0 });
    cleanups.push(() => client.close());
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await bus.flush();
    expect(byMethod('tools/call', 'server')).toHaveLength(1);
    expect(byMethod('tools/call', 'client')).toHaveLength(1);
  });

  it('rejects what is not a server, client or transport with a clear error', () => {
    expect(() => instrument({} as never)).toThrow(/McpServer, Server or Client/);
    expect(() => instrumentTransport({} as never)).toThrow(/Transport/);
  });

  it('uses serverName from options over serverInfo', async () => {
    setup();
    const server = instrument(createTestServer(), {
      bus,
      heartbeatIntervalMs: 0,
      serverName: 'renamed',
    });
    const client = createTestClient();
    const [clientTransport, serverTransport] = linkedPair();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    cleanups.push(() => client.close());
    await bus.flush();
    expect(sink.ofType('session_start')[0]).toMatchObject({
      server: 'renamed',
      serverName: 'test-server',
    });
  });
});

describe('request events only where a sink takes them', () => {
  it('live hooks still end every request when no sink takes request events; a sink added later gets full events', async () => {
    const ended: RequestEvent[] = [];
    const received: string[] = [];
    const liveOnly: EventSink = {
      name: 'live-only',
      eventTypes: ['session_start', 'session_end'],
      onEvent: (event) => void received.push(event.type),
      live: {
        start: (info) => info.mcpMethod,
        end: (_token, event) => void ended.push(event),
      },
    };
    bus = new EventBus({ sinks: [liveOnly] });
    cleanups.push(() => bus.shutdown());
    const { client } = await connectPair();
    expect(bus.wants('request')).toBe(false);
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await client.callTool({ name: 'fail', arguments: {} });
    const server = ended.filter((e) => e.role === 'server');
    expect(server.map((e) => [e.mcpMethod, e.tool, e.note])).toEqual([
      ['initialize', undefined, 'ok'],
      ['notifications/initialized', undefined, 'notification'],
      ['tools/call', 'echo', 'ok'],
      ['tools/call', 'fail', 'tool_error'],
    ]);
    // Never emitted, so nothing paid for what only a sink would read.
    for (const e of ended) {
      expect(e.id).toBe('');
      expect(e.requestSize).toBeUndefined();
      expect(e.responseSize).toBeUndefined();
    }
    await bus.flush();
    expect(received).toEqual(['session_start', 'session_start']);

    sink = createMemorySink();
    bus.addSink(sink);
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await bus.flush();
    const [call] = requests('server').filter((e) => e.mcpMethod === 'tools/call');
    expect(call?.id).toMatch(UUID);
    expect(call?.requestSize).toBeGreaterThan(0);
    expect(call?.responseSize).toBeGreaterThan(0);
    expect(ended.at(-1)).toBe(requests().at(-1));
  });
});

/** A low-level Server whose tools/list answers two tools per page. */
function pagedServer(names: string[]): Server {
  const server = new Server({ name: 'paged', version: '1.0.0' }, { capabilities: { tools: {} } });
  const tools = names.map((name) => ({
    name,
    description: name,
    inputSchema: { type: 'object' as const },
  }));
  server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const start = request.params?.cursor ? Number(request.params.cursor) : 0;
    const end = start + 2;
    return {
      tools: tools.slice(start, end),
      ...(end < tools.length && { nextCursor: String(end) }),
    };
  });
  return server;
}
