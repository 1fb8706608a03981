/**
 * Issue 7, "Faults": a transport that closes under 1,000 pending requests, and a client that
 * disconnects in the middle of an SSE response stream (Streamable HTTP). Every pending request
 * ends `closed` (event and span), every map entry of it is released, and once the bus is shut
 * down nothing of ours is left running: no timer (ref'd or not), no immediate, no process
 * listener. (A wrapped child process that dies is covered by test/integration/cli-wrap.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { monitorFor } from '../../src/monitor.js';
import { resolveOptions } from '../../src/options.js';
import { otelSetup } from '../helpers/otel.js';
import {
  activeResources,
  connectPair,
  processListeners,
  startTimerCensus,
  type TimerCensus,
} from '../fixtures/hardening-helpers.js';
import { startStatefulHost, startStatelessHost, type HttpHost } from '../fixtures/http-server.js';
import { waitFor } from '../helpers/otlp-receiver.js';

const PENDING = 1_000;

let census: TimerCensus | undefined;
let host: HttpHost | undefined;

afterEach(async () => {
  census?.stop();
  census = undefined;
  await host?.close();
  host = undefined;
});

/** A server whose `hang` tool never answers; `started` counts calls that reached it. */
function hangingServer(): McpServer & { started: number } {
  const server = Object.assign(new McpServer({ name: 'hangs', version: '1.0.0' }), {
    started: 0,
  });
  server.registerTool('hang', { description: 'Never answers' }, () => {
    server.started++;
    return new Promise<never>(() => {});
  });
  return server;
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Ref'd timers and immediates as `getActiveResourcesInfo()` lists them. */
function timerCounts(): { Timeout: number; Immediate: number } {
  const counts = activeResources();
  return { Timeout: counts.Timeout ?? 0, Immediate: counts.Immediate ?? 0 };
}

describe('a transport closed under 1,000 pending requests', () => {
  it('ends every one of them closed, on both sides, and leaves no timer or listener behind', async () => {
    const resourcesBefore = timerCounts();
    const listenersBefore = processListeners();
    census = startTimerCensus();

    const setup = otelSetup();
    const server = hangingServer();
    const pair = await connectPair(setup.bus, { server });
    const monitor = monitorFor(setup.bus, resolveOptions(undefined));
    const calls = Array.from({ length: PENDING }, () =>
      pair.client.callTool({ name: 'hang' }).then(
        () => 'answered',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      ),
    );
    while (server.started < PENDING) await turn();
    expect(monitor.pendingRequests).toBe(2 * PENDING); // the client's and the server's

    // Abrupt: the in-memory link closes both ends at once, no answer will ever come.
    await pair.clientTransport.close();
    const outcomes = await Promise.all(calls);
    expect(new Set(outcomes)).toEqual(new Set(['MCP error -32000: Connection closed']));

    const spans = (await setup.spans()).filter((s) => s.name === 'tools/call hang');
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const ofKind = spans.filter((s) => s.kind === kind);
      expect(ofKind).toHaveLength(PENDING);
      for (const span of ofKind) {
        expect(span.attributes['error.type']).toBe('closed');
        expect(span.status.code).toBe(SpanStatusCode.ERROR);
      }
    }
    const closed = setup.events
      .ofType('request')
      .filter((e) => e.mcpMethod === 'tools/call' && e.note === 'closed');
    expect(closed.filter((e) => e.role === 'client')).toHaveLength(PENDING);
    expect(closed.filter((e) => e.role === 'server')).toHaveLength(PENDING);
    expect(new Set(setup.events.ofType('session_end').map((e) => e.reason))).toEqual(
      new Set(['closed']),
    );

    // Everything per request and per session is released.
    expect(monitor.pendingRequests).toBe(0);
    expect(monitor.connectionCount).toBe(0);
    expect(monitor.tracker.openPaginations).toBe(0);
    expect(setup.otel.sessionTracers).toBe(0);

    await setup.bus.shutdown();
    await turn();
    await turn();
    // Nothing of ours still scheduled: every timer and immediate created since the start of
    // this test (unref'd ones included) has fired or been cleared...
    const ours = census
      .alive()
      .filter((t) => !t.stack.includes('at turn ('))
      .map((t) => `${t.type}\n${t.stack}`);
    expect(ours).toEqual([]);
    // ...what keeps the process alive is what it was before...
    expect(timerCounts().Timeout).toBeLessThanOrEqual(resourcesBefore.Timeout);
    expect(timerCounts().Immediate).toBeLessThanOrEqual(resourcesBefore.Immediate);
    // ...and no process listener (signals, beforeExit) is left behind.
    expect(processListeners()).toEqual(listenersBefore);
  });
});

describe('a client that disconnects in the middle of an SSE response stream', () => {
  const HEADERS = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };

  /** initialize (+ initialized) by hand; returns the headers for the session's next requests. */
  async function initialize(url: URL): Promise<Record<string, string>> {
    const response = await fetch(url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'disconnects', version: '1.0.0' },
        },
      }),
    });
    await response.text();
    const sessionId = response.headers.get('mcp-session-id');
    const headers: Record<string, string> = { ...HEADERS, 'mcp-protocol-version': '2025-06-18' };
    if (sessionId !== null) headers['mcp-session-id'] = sessionId;
    await (
      await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    return headers;
  }

  /** POSTs a tools/call of `slow`, waits for the SSE response to start, then cuts the connection. */
  async function callAndDisconnect(url: URL, headers: Record<string, string>): Promise<void> {
    const abort = new AbortController();
    const response = await fetch(url, {
      method: 'POST',
      headers,
      signal: abort.signal,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'slow', arguments: { ms: 60_000 } },
      }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    abort.abort();
  }

  it('stateless: the server span ends closed at once, and the connection is released', async () => {
    const setup = otelSetup();
    host = await startStatelessHost(setup.bus);
    const headers = await initialize(host.url);
    await callAndDisconnect(host.url, headers);
    const monitor = monitorFor(setup.bus, resolveOptions(undefined));
    await waitFor(
      () =>
        setup.events.ofType('request').some((e) => e.mcpMethod === 'tools/call') &&
        monitor.connectionCount === 0,
      5_000,
      () => `connections ${monitor.connectionCount}`,
    );
    await setup.bus.flush();
    const span = setup.exporter
      .getFinishedSpans()
      .find((s) => s.name === 'tools/call slow' && s.kind === SpanKind.SERVER);
    expect(span?.attributes['error.type']).toBe('closed');
    expect(setup.events.ofType('request').find((e) => e.mcpMethod === 'tools/call')?.note).toBe(
      'closed',
    );
    expect(monitor.pendingRequests).toBe(0);
    await setup.bus.shutdown();
  });

  it('stateful: the request stays pending while its session lives, and ends closed with it', async () => {
    // Observed SDK 1.32 behaviour: a stateful transport neither closes nor aborts the handler
    // when one response stream goes away; the session, and the request in it, live on.
    const setup = otelSetup();
    host = await startStatefulHost(setup.bus);
    const headers = await initialize(host.url);
    await callAndDisconnect(host.url, headers);
    const monitor = monitorFor(setup.bus, resolveOptions(undefined));
    await waitFor(() => monitor.pendingRequests === 1, 5_000);
    // The session still answers other requests meanwhile.
    const client = new Client({ name: 'other', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(host.url));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();

    await host.close();
    await setup.bus.flush();
    const span = setup.exporter
      .getFinishedSpans()
      .find((s) => s.name === 'tools/call slow' && s.kind === SpanKind.SERVER);
    expect(span?.attributes['error.type']).toBe('closed');
    expect(monitor.pendingRequests).toBe(0);
    expect(monitor.connectionCount).toBe(0);
    expect(setup.otel.sessionTracers).toBe(0);
    await setup.bus.shutdown();
  });
});
