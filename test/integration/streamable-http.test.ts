/**
 * The middleware on SDK 1.x's Node `StreamableHTTPServerTransport` over real HTTP on
 * 127.0.0.1: stateful hosts with concurrent sessions, session deletion, stateless hosts, and
 * the bytes on the wire. Every client request has a short timeout, so a server cut off from its
 * transport fails fast instead of hanging until the test times out.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createMemorySink, EventBus, type MemorySink, type RequestEvent } from '../../src/index.js';
import { startStatefulHost, startStatelessHost, type HttpHost } from '../fixtures/http-server.js';

/** Long enough for a loaded CI machine, short enough that a hang fails well before the test. */
const REQUEST_TIMEOUT_MS = 4_000;
const OPTIONS = { timeout: REQUEST_TIMEOUT_MS };

/** One POST as the client sent it and the JSON-RPC messages of its answer. */
interface Exchange {
  readonly body: string;
  readonly method: string | undefined;
  /** Each message of the response exactly as it was on the wire (JSON body or SSE `data:`). */
  readonly answers: Promise<string[]>;
}

/** The real fetch, recording POST bodies and their answers' bytes. */
function recordingFetch(exchanges: Exchange[]): FetchLike {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (init?.method === 'POST' && typeof init.body === 'string') {
      const parsed = JSON.parse(init.body) as { method?: unknown };
      const copy = response.clone();
      exchanges.push({
        body: init.body,
        method: typeof parsed.method === 'string' ? parsed.method : undefined,
        // A body still streaming when the client closes is aborted: no answers, not a crash.
        answers: copy.text().then(
          (text) =>
            (copy.headers.get('content-type') ?? '').includes('text/event-stream')
              ? text
                  .split('\n')
                  .filter((line) => line.startsWith('data: ') && line.length > 'data: '.length)
                  .map((line) => line.slice('data: '.length))
              : text.length > 0
                ? [text]
                : [],
          () => [],
        ),
      });
    }
    return response;
  };
}

interface Peer {
  readonly name: string;
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly exchanges: Exchange[];
  /** `mcp-session-id` the server assigned (captured: terminateSession() clears it). */
  sessionId: string | undefined;
}

let bus: EventBus;
let sink: MemorySink;
let host: HttpHost | undefined;
let peers: Peer[] = [];

beforeEach(() => {
  sink = createMemorySink();
  bus = new EventBus({ sinks: [sink] });
});

afterEach(async () => {
  for (const peer of peers) await peer.client.close().catch(() => undefined);
  peers = [];
  await host?.close();
  host = undefined;
  await bus.shutdown();
});

function peer(name: string, url: URL): Peer {
  const exchanges: Exchange[] = [];
  const transport = new StreamableHTTPClientTransport(url, { fetch: recordingFetch(exchanges) });
  const created: Peer = {
    name,
    client: new Client({ name, version: '2.0.0' }),
    transport,
    exchanges,
    sessionId: undefined,
  };
  peers.push(created);
  return created;
}

/** initialize, tools/call echo (its own name), tools/list. */
async function converse(p: Peer): Promise<void> {
  await p.client.connect(p.transport, OPTIONS);
  p.sessionId = p.transport.sessionId;
  const echoed = await p.client.callTool(
    { name: 'echo', arguments: { text: `from ${p.name} ✓` } },
    undefined,
    OPTIONS,
  );
  expect(echoed.content).toEqual([{ type: 'text', text: `from ${p.name} ✓` }]);
  const listed = await p.client.listTools(undefined, OPTIONS);
  expect(listed.tools.map((t) => t.name)).toContain('echo');
}

const answered = (events: readonly RequestEvent[]): RequestEvent[] =>
  events.filter((e) => e.note !== 'notification');

describe('stateful Streamable HTTP (SDK 1.x Node transport)', () => {
  it('an instrumented server answers, and the host’s own onclose still runs', async () => {
    // Regression: the Node transport forwards onmessage/onclose/onerror through prototype
    // accessors to an inner transport. A wrapper that shadows them on the instance leaves the
    // inner transport without a handler, and every request hangs until REQUEST_TIMEOUT_MS.
    host = await startStatefulHost(bus);
    const p = peer('claude-ai', host.url);
    await converse(p);
    expect(p.sessionId).toBeDefined();
    expect(host.sessions.has(p.sessionId!)).toBe(true);

    await p.transport.terminateSession();
    // The host's handler (installed before instrument wrapped the transport) removed the session.
    expect(host.sessions.has(p.sessionId!)).toBe(false);
    await bus.flush();
    expect(sink.ofType('request').length).toBeGreaterThanOrEqual(4);
  });

  it('keeps two concurrent sessions apart and ends a deleted one as deleted', async () => {
    host = await startStatefulHost(bus);
    const a = peer('claude-ai', host.url);
    const b = peer('cursor', host.url);
    await Promise.all([converse(a), converse(b)]);
    await bus.flush();

    const idA = a.sessionId!;
    const idB = b.sessionId!;
    expect(idA).toMatch(/^[0-9a-f-]{36}$/);
    expect(idB).toMatch(/^[0-9a-f-]{36}$/);
    expect(idA).not.toBe(idB);
    const owner = new Map([
      [idA, a],
      [idB, b],
    ]);

    const starts = sink.ofType('session_start');
    expect(starts).toHaveLength(2);
    expect(new Set(starts.map((s) => s.sessionId))).toEqual(new Set([idA, idB]));
    for (const start of starts) {
      expect(start).toMatchObject({
        transport: 'streamable-http',
        role: 'server',
        server: 'http-fixture',
        serverName: 'http-fixture',
        serverVersion: '1.2.3',
        clientName: owner.get(start.sessionId)!.name,
        clientVersion: '2.0.0',
      });
    }
    expect(starts.find((s) => s.sessionId === idA)!.clientPlatform).toBe('claude');
    expect(starts.find((s) => s.sessionId === idB)!.clientPlatform).toBe('cursor');

    const requests = sink.ofType('request');
    for (const event of requests) {
      // Every event belongs to the session whose HTTP requests carried it, never the other.
      expect(owner.has(event.sessionId!)).toBe(true);
      expect(event).toMatchObject({
        role: 'server',
        transport: 'streamable-http',
        httpMethod: 'POST',
        path: '/mcp',
        clientAddress: '127.0.0.1',
        clientName: owner.get(event.sessionId!)!.name,
      });
      expect(event.clientPort).toBeTypeOf('number');
      expect(event.requestSize).toBeGreaterThan(0);
      if (event.note !== 'notification') expect(event.responseSize).toBeGreaterThan(0);
    }
    for (const p of [a, b]) {
      const own = requests.filter((e) => e.sessionId === p.sessionId);
      expect(own.map((e) => e.mcpMethod)).toEqual(
        expect.arrayContaining([
          'initialize',
          'notifications/initialized',
          'tools/call',
          'tools/list',
        ]),
      );
      const call = own.find((e) => e.mcpMethod === 'tools/call')!;
      expect(call).toMatchObject({ tool: 'echo', note: 'ok' });

      // Wire sizes: the bytes the client POSTed and the bytes of the answer it got.
      const exchange = p.exchanges.find((x) => x.method === 'tools/call')!;
      const [answer] = await exchange.answers;
      expect(call.requestSize).toBe(Buffer.byteLength(exchange.body));
      expect(call.responseSize).toBe(Buffer.byteLength(answer!));
      expect(answer).toContain(`from ${p.name} ✓`);
    }
    // Same tools on both sessions: one contract, one version.
    expect(sink.ofType('schema_version_created')).toEqual([
      expect.objectContaining({ method: 'tools/list', version: 1, role: 'server' }),
    ]);
    expect(owner.has(sink.ofType('schema_version_created')[0]!.sessionId!)).toBe(true);
    expect(sink.ofType('session_end')).toEqual([]);

    // DELETE ends A's session as deleted; B is untouched.
    await a.transport.terminateSession();
    await bus.flush();
    const ownA = requests.filter((e) => e.sessionId === idA);
    expect(sink.ofType('session_end')).toEqual([
      expect.objectContaining({
        sessionId: idA,
        reason: 'deleted',
        transport: 'streamable-http',
        role: 'server',
        requestCount: answered(ownA).length,
        errorCount: 0,
      }),
    ]);

    // Observed SDK 1.32 behaviour: Client.close() over Streamable HTTP only aborts the client's
    // own streams; it sends no DELETE, so the server keeps the session, and it still answers.
    await b.client.close();
    const stillThere = await fetch(host.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': idB,
        'mcp-protocol-version': starts.find((s) => s.sessionId === idB)!.protocolVersion!,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'after-close', method: 'ping' }),
    });
    expect(stillThere.status).toBe(200);
    expect(await stillThere.text()).toContain('"after-close"');
    await bus.flush();
    expect(sink.ofType('session_end').map((e) => e.sessionId)).toEqual([idA]);
    expect(sink.ofType('request').find((e) => e.jsonrpcId === 'after-close')).toMatchObject({
      sessionId: idB,
      mcpMethod: 'ping',
      note: 'ok',
    });

    // It ends when the host closes its transport (or after sessionIdleTimeoutMs).
    await host.close();
    await bus.flush();
    const ownB = sink.ofType('request').filter((e) => e.sessionId === idB);
    expect(sink.ofType('session_end').find((e) => e.sessionId === idB)).toMatchObject({
      reason: 'closed',
      requestCount: answered(ownB).length,
      errorCount: 0,
    });
  });
});

describe('stateless Streamable HTTP (SDK 1.x Node transport)', () => {
  it('emits request events without a session id and no session events', async () => {
    host = await startStatelessHost(bus);
    const p = peer('claude-ai', host.url);
    await converse(p);
    expect(p.sessionId).toBeUndefined();
    await p.client.close();
    await host.close();
    await bus.flush();

    const requests = sink.ofType('request');
    expect(requests.map((e) => e.mcpMethod)).toEqual(
      expect.arrayContaining([
        'initialize',
        'notifications/initialized',
        'tools/call',
        'tools/list',
      ]),
    );
    for (const event of requests) {
      expect(event.sessionId).toBeUndefined();
      expect(event).toMatchObject({
        role: 'server',
        transport: 'streamable-http',
        httpMethod: 'POST',
        path: '/mcp',
        clientAddress: '127.0.0.1',
      });
      expect(event.requestSize).toBeGreaterThan(0);
      if (event.note !== 'notification') expect(event.responseSize).toBeGreaterThan(0);
    }
    expect(requests.find((e) => e.mcpMethod === 'tools/call')).toMatchObject({
      tool: 'echo',
      note: 'ok',
    });
    const exchange = p.exchanges.find((x) => x.method === 'tools/call')!;
    const [answer] = await exchange.answers;
    const call = requests.find((e) => e.mcpMethod === 'tools/call')!;
    expect(call.requestSize).toBe(Buffer.byteLength(exchange.body));
    expect(call.responseSize).toBe(Buffer.byteLength(answer!));
    expect(sink.ofType('session_start')).toEqual([]);
    expect(sink.ofType('session_end')).toEqual([]);
  });
});
