/**
 * The middleware against the v2 SDK generation (`@modelcontextprotocol/server` and
 * `@modelcontextprotocol/client` 2.x), in both protocol eras: the initialize era over v2's own
 * InMemoryTransport, and the per-request era (2026-07-28: no initialize, client info and
 * protocol version in every request's `_meta`) via serveStdio and via createMcpHandler over HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { EventBus, createMemorySink, instrument, setDiagnosticLogger } from '../../src/index.js';
import type { MemorySink, RequestEvent } from '../../src/index.js';
import {
  MODERN_PROTOCOL_VERSION,
  createTestClientV2,
  createTestServerV2,
  linkedPairV2,
} from '../helpers/v2.js';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function setup(): { bus: EventBus; sink: MemorySink } {
  const sink = createMemorySink();
  const bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
  cleanups.push(() => bus.shutdown());
  return { bus, sink };
}

function requests(sink: MemorySink, mcpMethod?: string): RequestEvent[] {
  return sink.ofType('request').filter((e) => mcpMethod === undefined || e.mcpMethod === mcpMethod);
}

function only(sink: MemorySink, mcpMethod: string): RequestEvent {
  const found = requests(sink, mcpMethod);
  expect(found, mcpMethod).toHaveLength(1);
  return found[0]!;
}

/** Flushes until `sink` has a request event for `mcpMethod` (bounded: I/O turns, not timers). */
async function eventually(
  side: { bus: EventBus; sink: MemorySink },
  mcpMethod: string,
): Promise<RequestEvent> {
  for (let turn = 0; turn < 200; turn++) {
    await side.bus.flush();
    const found = requests(side.sink, mcpMethod);
    if (found.length > 0) return only(side.sink, mcpMethod);
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`no ${mcpMethod} event`);
}

describe('v2 SDK, initialize era, in-memory', () => {
  it('reports sessions, requests, tool errors and schema versions on both sides', async () => {
    // One bus per side, as when server and client are different processes (schema versions
    // are per bus, server and method).
    const serverSide = setup();
    const clientSide = setup();
    const server = instrument(createTestServerV2(), {
      bus: serverSide.bus,
      heartbeatIntervalMs: 0,
    });
    const client = instrument(createTestClientV2(), {
      bus: clientSide.bus,
      heartbeatIntervalMs: 0,
    });
    const [clientTransport, serverTransport] = linkedPairV2();
    await server.connect(serverTransport);
    await client.connect(clientTransport);

    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'hi' }]);
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.listTools();
    await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    await client.readResource({ uri: 'file:///readme.md' });
    await client.close();
    await serverSide.bus.flush();
    await clientSide.bus.flush();

    for (const [role, { sink }] of [
      ['server', serverSide],
      ['client', clientSide],
    ] as const) {
      const starts = sink.ofType('session_start');
      expect(starts, role).toHaveLength(1);
      const start = starts[0]!;
      expect(start).toMatchObject({
        role,
        server: 'test-server-v2',
        clientName: 'cursor-v2',
        clientVersion: '0.8.0',
        clientPlatform: 'cursor',
        protocolVersion: '2025-11-25',
        serverName: 'test-server-v2',
        serverVersion: '2.3.4',
        transport: 'in-memory',
      });
      const sessionId = start.sessionId;
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

      for (const event of requests(sink)) {
        expect(event, `${role} ${event.mcpMethod}`).toMatchObject({
          role,
          sessionId,
          server: 'test-server-v2',
          transport: 'in-memory',
        });
      }
      expect(only(sink, 'initialize')).toMatchObject({ note: 'ok', jsonrpcId: '0' });
      expect(requests(sink, 'notifications/initialized').map((e) => e.note)).toEqual([
        'notification',
      ]);

      const calls = requests(sink, 'tools/call');
      expect(calls.map((e) => [e.tool, e.note])).toEqual([
        ['echo', 'ok'],
        ['fail', 'tool_error'],
      ]);
      const [okCall, failCall] = calls;
      expect(okCall).toMatchObject({
        clientName: 'cursor-v2',
        clientVersion: '0.8.0',
        clientPlatform: 'cursor',
        protocolVersion: '2025-11-25',
      });
      expect(okCall!.requestSize).toBeGreaterThan(0);
      expect(okCall!.responseSize).toBeGreaterThan(0);
      expect(okCall!.latencyUs).toBeGreaterThanOrEqual(0);
      expect(failCall!.errorMsg).toBe('the tool failed on purpose');
      expect(failCall!.errorCode).toBeUndefined();

      expect(only(sink, 'prompts/get')).toMatchObject({ prompt: 'greet', note: 'ok' });
      expect(only(sink, 'resources/read')).toMatchObject({
        resourceUri: 'file:///readme.md',
        note: 'ok',
      });
      const list = only(sink, 'tools/list');
      expect(list.note).toBe('ok');

      const schemas = sink.ofType('schema_version_created');
      expect(schemas).toHaveLength(1);
      expect(schemas[0]).toMatchObject({
        role,
        method: 'tools/list',
        version: 1,
        sessionId,
        server: 'test-server-v2',
        jsonrpcId: list.jsonrpcId,
        changes: { added: [], removed: [], modified: [] },
      });
      const tools = (schemas[0]!.payload as { tools: Array<{ name: string }> }).tools;
      expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'fail']);

      // initialize, 2 tools/call, tools/list, prompts/get, resources/read; one tool_error.
      expect(sink.ofType('session_end')).toEqual([
        expect.objectContaining({
          role,
          sessionId,
          reason: 'closed',
          requestCount: 6,
          errorCount: 1,
          transport: 'in-memory',
        }),
      ]);
    }
  });
});

describe('v2 SDK, instrument()', () => {
  it('returns the same McpServer, Server and Client, and connect still works', async () => {
    const { bus, sink } = setup();
    const mcpServer = createTestServerV2('high-level');
    const lowLevel = createTestServerV2('low-level').server; // the v2 Server itself
    const clients = [createTestClientV2(), createTestClientV2()] as const;
    expect(instrument(mcpServer, { bus, heartbeatIntervalMs: 0 })).toBe(mcpServer);
    expect(instrument(lowLevel, { bus, heartbeatIntervalMs: 0 })).toBe(lowLevel);
    for (const client of clients) {
      expect(instrument(client, { bus, heartbeatIntervalMs: 0 })).toBe(client);
      expect(client).toBeInstanceOf(Client);
    }
    expect(mcpServer).toBeInstanceOf(McpServer);

    const [firstClient, firstServer] = linkedPairV2();
    const [secondClient, secondServer] = linkedPairV2();
    await mcpServer.connect(firstServer);
    await lowLevel.connect(secondServer);
    await clients[0].connect(firstClient);
    await clients[1].connect(secondClient);
    for (const client of clients) {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'still works' } });
      expect(result.content).toEqual([{ type: 'text', text: 'still works' }]);
      await client.close();
    }
    await bus.flush();

    expect(
      requests(sink, 'tools/call')
        .map((e) => [e.role, e.server, e.tool, e.note])
        .sort(),
    ).toEqual([
      ['client', 'high-level', 'echo', 'ok'],
      ['client', 'low-level', 'echo', 'ok'],
      ['server', 'high-level', 'echo', 'ok'],
      ['server', 'low-level', 'echo', 'ok'],
    ]);
  });

  it('instrumenting twice (and via McpServer and its .server) counts every message once', async () => {
    const { bus, sink } = setup();
    const diagnostics: string[] = [];
    setDiagnosticLogger({
      warn: (message) => diagnostics.push(`warn ${message}`),
      error: (message) => diagnostics.push(`error ${message}`),
    });
    cleanups.push(() => Promise.resolve(setDiagnosticLogger(undefined)));
    const server = createTestServerV2();
    const client = createTestClientV2();
    for (let i = 0; i < 2; i++) {
      expect(instrument(server, { bus, heartbeatIntervalMs: 0 })).toBe(server);
      expect(instrument(server.server, { bus, heartbeatIntervalMs: 0 })).toBe(server.server);
      expect(instrument(client, { bus, heartbeatIntervalMs: 0 })).toBe(client);
    }
    // McpServer and its .server are one target: 1 + 3 repeated calls.
    expect(diagnostics).toEqual(
      Array(4).fill(
        'warn instrument: this object is instrumented already; the second call does nothing',
      ),
    );
    const [clientTransport, serverTransport] = linkedPairV2();
    await server.connect(serverTransport);
    await client.connect(clientTransport);
    await client.callTool({ name: 'echo', arguments: { text: 'once' } });
    await client.close();
    await bus.flush();

    expect(
      requests(sink)
        .map((e) => `${e.role} ${e.mcpMethod} ${e.note}`)
        .sort(),
    ).toEqual([
      'client initialize ok',
      'client notifications/initialized notification',
      'client tools/call ok',
      'server initialize ok',
      'server notifications/initialized notification',
      'server tools/call ok',
    ]);
    expect(
      sink
        .ofType('session_start')
        .map((e) => e.role)
        .sort(),
    ).toEqual(['client', 'server']);
    expect(
      sink
        .ofType('session_end')
        .map((e) => [e.role, e.requestCount])
        .sort(),
    ).toEqual([
      ['client', 2],
      ['server', 2],
    ]);
  });
});

describe('v2 SDK, per-request era (2026-07-28)', () => {
  function expectPerRequestIdentity(event: RequestEvent): void {
    expect(event, `${event.role} ${event.mcpMethod}`).toMatchObject({
      clientName: 'cursor-v2',
      clientVersion: '0.8.0',
      clientPlatform: 'cursor',
      protocolVersion: MODERN_PROTOCOL_VERSION,
    });
    expect(event.sessionId, `${event.role} ${event.mcpMethod} sessionId`).toBeUndefined();
  }

  it("serveStdio: client info and protocol version come from each request's _meta, no sessions", async () => {
    const serverSide = setup();
    const clientSide = setup();
    const [clientTransport, wire] = linkedPairV2();
    let instances = 0;
    const handle = serveStdio(
      () => {
        instances++;
        return instrument(createTestServerV2(), { bus: serverSide.bus, heartbeatIntervalMs: 0 });
      },
      { transport: wire },
    );
    cleanups.push(() => handle.close());
    const client = instrument(createTestClientV2({ era: 'modern' }), {
      bus: clientSide.bus,
      heartbeatIntervalMs: 0,
    });
    await client.connect(clientTransport);
    expect(client.getProtocolEra()).toBe('modern');

    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'modern' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'modern' }]);
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.close();
    await handle.close();
    await serverSide.bus.flush();
    await clientSide.bus.flush();
    expect(instances).toBe(1);

    for (const [role, { sink }] of [
      ['server', serverSide],
      ['client', clientSide],
    ] as const) {
      expect(sink.ofType('session_start'), role).toEqual([]);
      expect(sink.ofType('session_end'), role).toEqual([]);
      const events = requests(sink);
      expect(events.map((e) => [e.role, e.mcpMethod, e.tool, e.note])).toEqual([
        [role, 'server/discover', undefined, 'ok'],
        [role, 'tools/call', 'echo', 'ok'],
        [role, 'tools/call', 'fail', 'tool_error'],
      ]);
      for (const event of events) expectPerRequestIdentity(event);
      expect(events.map((e) => e.jsonrpcId)).toEqual(['server-discover-probe-1', '0', '1']);
      expect(events[2]!.errorMsg).toBe('the tool failed on purpose');
      expect(events[1]!.requestSize).toBeGreaterThan(0);
      expect(events[1]!.responseSize).toBeGreaterThan(0);
    }
    // serveStdio connects the factory's server to its own StdioConnectionChannel (which relays to
    // the wire), so the server side reports stdio whatever the wire is.
    expect(requests(serverSide.sink).every((e) => e.transport === 'stdio')).toBe(true);
    expect(requests(serverSide.sink).every((e) => e.server === 'test-server-v2')).toBe(true);
    expect(requests(clientSide.sink).every((e) => e.transport === 'in-memory')).toBe(true);
  });

  it('client side: the server is named from serverInfo in result _meta (no initialize)', async () => {
    const { bus, sink } = setup();
    const [clientTransport, wire] = linkedPairV2();
    const handle = serveStdio(() => createTestServerV2(), { transport: wire });
    cleanups.push(() => handle.close());
    const client = instrument(createTestClientV2({ era: 'modern' }), {
      bus,
      heartbeatIntervalMs: 0,
    });
    await client.connect(clientTransport);
    await client.callTool({ name: 'echo', arguments: { text: 'who are you' } });
    expect(client.getServerVersion()).toMatchObject({ name: 'test-server-v2' });
    await client.close();
    await bus.flush();

    // server/discover's result (and every modern result) carries
    // _meta['io.modelcontextprotocol/serverInfo']: the only place a modern client learns it.
    expect(requests(sink).map((e) => [e.mcpMethod, e.server])).toEqual([
      ['server/discover', 'test-server-v2'],
      ['tools/call', 'test-server-v2'],
    ]);
  });

  it('createMcpHandler over HTTP: one instrumented instance per request, path from extra.request', async () => {
    const serverSide = setup();
    const clientSide = setup();
    let instances = 0;
    const handler = createMcpHandler(() => {
      instances++;
      return instrument(createTestServerV2(), { bus: serverSide.bus, heartbeatIntervalMs: 0 });
    });
    cleanups.push(() => handler.close());
    const seen: Request[] = [];
    const clientTransport = new StreamableHTTPClientTransport(
      new URL('http://mcp.test/v2/mcp?tenant=a'),
      {
        fetch: (url, init) => {
          const request = new Request(url, init);
          seen.push(request);
          return handler.fetch(request);
        },
      },
    );
    const client = instrument(createTestClientV2({ era: 'modern' }), {
      bus: clientSide.bus,
      heartbeatIntervalMs: 0,
    });
    await client.connect(clientTransport);
    expect(client.getProtocolEra()).toBe('modern');
    await client.callTool({ name: 'echo', arguments: { text: 'over http' } });
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.close();
    await serverSide.bus.flush();
    await clientSide.bus.flush();

    // Sessionless: no mcp-session-id, and one fresh server instance per HTTP request.
    expect(seen.map((r) => r.headers.get('mcp-method'))).toEqual([
      'server/discover',
      'tools/call',
      'tools/call',
    ]);
    expect(seen.every((r) => !r.headers.has('mcp-session-id'))).toBe(true);
    expect(instances).toBe(3);

    for (const [role, { sink }] of [
      ['server', serverSide],
      ['client', clientSide],
    ] as const) {
      expect(sink.ofType('session_start'), role).toEqual([]);
      expect(sink.ofType('session_end'), role).toEqual([]);
      const events = requests(sink);
      expect(events.map((e) => [e.role, e.mcpMethod, e.tool, e.note])).toEqual([
        [role, 'server/discover', undefined, 'ok'],
        [role, 'tools/call', 'echo', 'ok'],
        [role, 'tools/call', 'fail', 'tool_error'],
      ]);
      for (const event of events) {
        expectPerRequestIdentity(event);
        expect(event.transport).toBe('streamable-http');
      }
    }
    // The per-request transport is driven by handleMessage(message, { request }): the v2 extra
    // carries the web Request, and its URL path (query cut) is on every server-side event.
    for (const event of requests(serverSide.sink)) {
      expect(event).toMatchObject({
        server: 'test-server-v2',
        httpMethod: 'POST',
        path: '/v2/mcp',
      });
    }
    for (const event of requests(clientSide.sink)) {
      expect(event.path).toBeUndefined();
    }
  });

  it('createMcpHandler over HTTP: a call the client aborts ends cancelled on the client side', async () => {
    // Modern HTTP has a stream per request (hasPerRequestStream), so the SDK cancels by aborting
    // that HTTP request (TransportSendOptions.requestSignal), not with notifications/cancelled.
    const clientSide = setup();
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const handler = createMcpHandler(() => {
      const server = createTestServerV2();
      server.registerTool('hang', { description: 'Waits until cancelled' }, (ctx) => {
        started();
        return new Promise((resolve) =>
          ctx.mcpReq.signal.addEventListener('abort', () =>
            resolve({ content: [{ type: 'text', text: 'aborted' }] }),
          ),
        );
      });
      return server;
    });
    cleanups.push(() => handler.close());
    const clientTransport = new StreamableHTTPClientTransport(new URL('http://mcp.test/mcp'), {
      fetch: (url, init) => handler.fetch(new Request(url, init)),
    });
    const client = instrument(createTestClientV2({ era: 'modern' }), {
      bus: clientSide.bus,
      heartbeatIntervalMs: 0,
    });
    await client.connect(clientTransport);
    const abort = new AbortController();
    const call = client.callTool({ name: 'hang', arguments: {} }, { signal: abort.signal });
    await handlerStarted;
    abort.abort('user gave up');
    await expect(call).rejects.toThrow();
    const ended = await eventually(clientSide, 'tools/call');
    expect(ended).toMatchObject({ tool: 'hang', note: 'cancelled' });
    await client.close();
  });

  it('createMcpHandler legacy fallback: an initialize-era client over stateless HTTP', async () => {
    const serverSide = setup();
    const clientSide = setup();
    const handler = createMcpHandler(() =>
      instrument(createTestServerV2(), { bus: serverSide.bus, heartbeatIntervalMs: 0 }),
    );
    cleanups.push(() => handler.close());
    const clientTransport = new StreamableHTTPClientTransport(new URL('http://mcp.test/legacy'), {
      fetch: (url, init) => handler.fetch(new Request(url, init)),
    });
    const client = instrument(createTestClientV2(), {
      bus: clientSide.bus,
      heartbeatIntervalMs: 0,
    });
    await client.connect(clientTransport);
    expect(client.getProtocolEra()).toBe('legacy');
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    await client.close();
    await serverSide.bus.flush();
    await clientSide.bus.flush();

    // Stateless Streamable HTTP: requests, but no session (no mcp-session-id) on either side.
    for (const { sink } of [serverSide, clientSide]) {
      expect(sink.ofType('session_start')).toEqual([]);
      expect(requests(sink).every((e) => e.sessionId === undefined)).toBe(true);
    }
    const server = requests(serverSide.sink);
    expect(server.map((e) => [e.mcpMethod, e.note, e.path])).toEqual([
      ['initialize', 'ok', '/legacy'],
      ['notifications/initialized', 'notification', '/legacy'],
      ['tools/call', 'tool_error', '/legacy'],
    ]);
    expect(server[0]).toMatchObject({ clientName: 'cursor-v2', protocolVersion: '2025-11-25' });
    expect(only(clientSide.sink, 'tools/call')).toMatchObject({
      note: 'tool_error',
      server: 'test-server-v2',
      clientName: 'cursor-v2',
      protocolVersion: '2025-11-25',
    });
  });
});
