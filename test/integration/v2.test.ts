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
import { EventBus, createMemorySink, instrument } from '../../src/index.js';
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
