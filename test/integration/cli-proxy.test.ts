/**
 * `mcp-otel proxy` in process: a real SDK 1.x upstream (test/fixtures/proxy-upstream.ts, not
 * instrumented) on 127.0.0.1, the proxy in front of it, and a real SDK Client pointed at the
 * proxy. What is asserted is what a user sees: the client's results (the same as without the
 * proxy), the events of the proxy's bus, what reached the upstream, and the bytes of the
 * proxy's own answers. Every wait is bounded.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  createConsoleSink,
  createMemorySink,
  EventBus,
  setDiagnosticLogger,
  type MemorySink,
  type ProxyEvent,
  type RequestEvent,
} from '../../src/index.js';
import { parseArgs, UsageError } from '../../src/cli/args.js';
import { checkBindAddress, runProxy, startProxy, type RunningProxy } from '../../src/cli/proxy.js';
import { MAX_REQUEST_BODY_BYTES } from '../../src/cli/proxy-server.js';
import { SseSplitter, type SseChunk } from '../../src/cli/proxy-sse.js';
import type { CliTelemetry } from '../../src/cli/telemetry.js';
import { otelSetup } from '../helpers/otel.js';
import {
  closedPort,
  startBystander,
  startUpstream,
  type Upstream,
  type UpstreamOptions,
} from '../fixtures/proxy-upstream.js';

/** Long enough for a loaded CI machine, short enough that a hang fails well before the test. */
const TIMEOUT_MS = 4_000;
const OPTIONS = { timeout: TIMEOUT_MS };

let bus: EventBus;
let sink: MemorySink;
let upstream: Upstream | undefined;
let proxy: RunningProxy | undefined;
let cleanups: Array<() => Promise<unknown>> = [];

beforeEach(() => {
  sink = createMemorySink();
  bus = new EventBus({ sinks: [sink] });
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
  await proxy?.close();
  proxy = undefined;
  await upstream?.close();
  upstream = undefined;
  setDiagnosticLogger(undefined);
  vi.restoreAllMocks();
  await bus.shutdown();
});

function telemetryOf(eventBus: EventBus, otel?: CliTelemetry['otel']): CliTelemetry {
  return { bus: eventBus, otel, instrumentOptions: { bus: eventBus, heartbeatIntervalMs: 0 } };
}

/** An upstream and a proxy in front of it (of `path` on it: /mcp unless said), both closed after the test. */
async function startBoth(
  options: UpstreamOptions,
  telemetry: CliTelemetry = telemetryOf(bus),
  path = '/mcp',
): Promise<{ upstream: Upstream; proxy: RunningProxy }> {
  const started = await startUpstream(options);
  cleanups.push(() => started.close());
  const running = await startProxy({
    upstream: new URL(path, started.url).href,
    port: 0,
    host: '127.0.0.1',
    hostGiven: false,
    telemetry,
  });
  cleanups.push(() => running.close());
  return { upstream: started, proxy: running };
}

async function connect(
  url: URL,
  init: {
    headers?: Record<string, string>;
    /** Answer roots/list, recording the `_meta` of each request. */
    roots?: Array<Record<string, unknown> | undefined>;
  } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client(
    { name: 'claude-ai', version: '0.9.0' },
    { capabilities: init.roots ? { roots: {} } : {} },
  );
  const seen = init.roots;
  if (seen) {
    client.setRequestHandler(ListRootsRequestSchema, (request) => {
      seen.push(request.params?._meta);
      return { roots: [{ uri: 'file:///tmp/root', name: 'root' }] };
    });
  }
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: init.headers ? { headers: init.headers } : undefined,
  });
  await client.connect(transport, OPTIONS);
  cleanups.push(() => client.close());
  return { client, transport };
}

/** Polls `check` (flushing the bus) until it holds, for at most TIMEOUT_MS. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    await bus.flush();
    if (check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `promise`, or a rejection naming `what` after TIMEOUT_MS. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function requests(method?: string): RequestEvent[] {
  return sink.ofType('request').filter((e) => method === undefined || e.mcpMethod === method);
}

function only<T>(items: readonly T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0] as T;
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  return content?.[0]?.text ?? '';
}

/** A raw HTTP request to the proxy, for what an SDK client would never send. */
function rawRequest(
  url: URL,
  options: { method: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path ?? url.pathname,
        headers: options.headers,
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('raw request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw-client', version: '1.0.0' },
  },
});
const POST_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

describe('mcp-otel proxy: Streamable HTTP, stateful', () => {
  it('gives the client the results it gets without the proxy, and events of a session keyed by the upstream’s id', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const direct = await connect(upstream.url);
    const proxied = await connect(proxy.url);

    expect(await proxied.client.listTools(undefined, OPTIONS)).toEqual(
      await direct.client.listTools(undefined, OPTIONS),
    );
    const args = { name: 'echo', arguments: { text: 'héllo' } };
    expect(await proxied.client.callTool(args, undefined, OPTIONS)).toEqual(
      await direct.client.callTool(args, undefined, OPTIONS),
    );
    expect(await proxied.client.callTool({ name: 'fail' }, undefined, OPTIONS)).toEqual(
      await direct.client.callTool({ name: 'fail' }, undefined, OPTIONS),
    );
    await bus.flush();

    const sessionId = proxied.transport.sessionId;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The upstream assigned it: every later request the upstream got carries it.
    expect(
      upstream.requests.some(
        (r) => r.method === 'POST' && r.headers['mcp-session-id'] === sessionId,
      ),
    ).toBe(true);
    const start = only(sink.ofType('session_start'), 'one session_start');
    expect(start).toMatchObject({
      sessionId,
      transport: 'streamable-http',
      role: 'server',
      clientName: 'claude-ai',
      serverName: 'upstream-fixture',
      serverVersion: '3.1.4',
      clientPlatform: 'claude',
    });
    const echo = only(
      requests('tools/call').filter((e) => e.tool === 'echo'),
      'one echo call',
    );
    expect(echo).toMatchObject({
      role: 'server',
      transport: 'streamable-http',
      sessionId,
      server: 'upstream-fixture',
      httpMethod: 'POST',
      path: '/mcp',
      clientAddress: '127.0.0.1',
      note: 'ok',
    });
    expect(echo.clientPort).toBeGreaterThan(0);
    // The upstream's part of the latency, and the status that carried the answer.
    expect(echo.httpStatus).toBe(200);
    expect(echo.upstreamUs).toBeGreaterThan(0);
    expect(echo.upstreamUs).toBeLessThanOrEqual(echo.latencyUs);
    expect(
      only(
        requests('tools/call').filter((e) => e.tool === 'fail'),
        'one fail call',
      ),
    ).toMatchObject({ note: 'tool_error', errorMsg: 'failed on purpose' });
    expect(requests('notifications/initialized')).toHaveLength(1);
    expect(sink.ofType('session_end')).toHaveLength(0);
    expect(proxy.sessionCount).toBe(1);

    // DELETE through the proxy ends the session, as 'deleted', once the upstream agreed.
    await proxied.transport.terminateSession();
    await bus.flush();
    expect(only(sink.ofType('session_end'), 'one session_end')).toMatchObject({
      sessionId,
      reason: 'deleted',
      transport: 'streamable-http',
      requestCount: 4, // initialize, tools/list, 2 × tools/call
      errorCount: 1,
    });
    expect(proxy.sessionCount).toBe(0);
    expect(upstream.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('streams SSE responses event by event: the first progress arrives before the tool finishes', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const { client } = await connect(proxy.url);
    const progress: number[] = [];
    let firstProgress!: () => void;
    const first = new Promise<void>((resolve) => {
      firstProgress = resolve;
    });
    const call = client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      ...OPTIONS,
      onprogress: (p) => {
        progress.push(p.progress);
        firstProgress();
      },
    });
    await within(first, 'the first progress (before the tool finishes)');
    // The tool is still waiting on the gate: a proxy that buffered the body could not be here.
    expect(upstream.progressFinished()).toBe(false);
    expect(progress).toEqual([1]);
    upstream.gate.open();
    expect(textOf(await call)).toBe('3 steps');
    expect(progress).toEqual([1, 2, 3]);
    await bus.flush();
    const event = only(
      requests('tools/call').filter((e) => e.tool === 'progress'),
      'one progress call',
    );
    expect(event.note).toBe('ok');
    expect(requests('notifications/progress')).toHaveLength(3);
    // Time to the first event, not to the end: the tool was held at the gate in between.
    expect(event.upstreamUs).toBeLessThan(event.latencyUs);
  });

  it('observes upstream→client requests on the response stream, answered by a client POST', async () => {
    const otel = otelSetup();
    cleanups.push(() => otel.bus.shutdown());
    const { proxy } = await startBoth({ mode: 'stateful' }, telemetryOf(otel.bus, otel.otel));
    const metas: Array<Record<string, unknown> | undefined> = [];
    const { client } = await connect(proxy.url, { roots: metas });
    expect(textOf(await client.callTool({ name: 'roots' }, undefined, OPTIONS))).toBe(
      'file:///tmp/root',
    );
    await otel.bus.flush();
    const events = otel.events.ofType('request');
    expect(
      only(
        events.filter((e) => e.mcpMethod === 'roots/list'),
        'one roots/list',
      ),
    ).toMatchObject({
      role: 'client',
      transport: 'streamable-http',
      note: 'ok',
    });
    expect(
      only(
        events.filter((e) => e.mcpMethod === 'tools/call'),
        'one tools/call',
      ),
    ).toMatchObject({
      role: 'server',
      tool: 'roots',
      note: 'ok',
    });
    // The SSE event carrying roots/list was rewritten with the proxy's CLIENT span as parent.
    const spans = await otel.spans();
    const span = spans.find((s) => s.name === 'roots/list');
    expect(span, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(metas).toHaveLength(1);
    expect(metas[0]?.traceparent).toBe(
      `00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`,
    );
  });

  it('on close, ends the requests in flight and the sessions, and lets go of every connection', async () => {
    const { proxy } = await startBoth({ mode: 'stateful' });
    const { client } = await connect(proxy.url);
    let firstProgress!: () => void;
    const first = new Promise<void>((resolve) => {
      firstProgress = resolve;
    });
    const call = client.callTool({ name: 'progress', arguments: { steps: 2 } }, undefined, {
      ...OPTIONS,
      onprogress: () => firstProgress(),
    });
    const outcome = call.then(
      () => 'answered',
      () => 'failed',
    );
    await within(first, 'the first progress');
    await within(proxy.close(), 'proxy.close()');
    await bus.flush();
    expect(only(requests('tools/call'), 'one tools/call')).toMatchObject({ note: 'closed' });
    expect(only(sink.ofType('session_end'), 'one session_end')).toMatchObject({ reason: 'closed' });
    expect(proxy.sessionCount).toBe(0);
    // The client's stream was cut: its request fails rather than hanging.
    expect(await within(outcome, 'the client to notice')).toBe('failed');
  });

  it('proxies the standalone GET stream: upstream notifications reach the client and are observed', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const { client, transport } = await connect(proxy.url);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    await eventually(
      () =>
        upstream.requests.some(
          (r) => r.method === 'GET' && r.headers['mcp-session-id'] === transport.sessionId,
        ),
      'the client’s GET stream to reach the upstream',
    );
    await upstream.notifyToolsChanged();
    await eventually(() => changed === 1, 'the notification to reach the client');
    await eventually(
      () => requests('notifications/tools/list_changed').length === 1,
      'the notification event',
    );
    expect(requests('notifications/tools/list_changed')[0]).toMatchObject({
      sessionId: transport.sessionId,
      note: 'notification',
    });
  });

  it('passes the client’s auth headers through unchanged, and never records them', async () => {
    const diagnostics: string[] = [];
    setDiagnosticLogger({
      warn: (m) => diagnostics.push(m),
      error: (m) => diagnostics.push(m),
    });
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      stderr.push(String(chunk));
      return true;
    });
    const consoleLines: string[] = [];
    const otel = otelSetup();
    otel.bus.addSink(
      createConsoleSink({ format: 'json', stream: { write: (line) => consoleLines.push(line) } }),
    );
    cleanups.push(() => otel.bus.shutdown());
    const token = `canary-token-${randomUUID()}`;
    const cookie = `canary-cookie-${randomUUID()}`;
    const { upstream, proxy } = await startBoth(
      { mode: 'stateful', token },
      telemetryOf(otel.bus, otel.otel),
    );

    // Without the token, the upstream's 401 and its challenge reach the client as they were.
    const refused = await rawRequest(proxy.url, {
      method: 'POST',
      headers: POST_HEADERS,
      body: INITIALIZE,
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="upstream-fixture"');
    expect(JSON.parse(refused.body)).toEqual({ error: 'unauthorized' });

    const { client } = await connect(proxy.url, {
      headers: { authorization: `Bearer ${token}`, cookie: `sid=${cookie}` },
    });
    expect(
      textOf(await client.callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, OPTIONS)),
    ).toBe('x');
    const authorized = upstream.requests.filter((r) => r.headers.authorization !== undefined);
    expect(authorized.length).toBeGreaterThan(0);
    for (const r of authorized) {
      expect(r.headers.authorization).toBe(`Bearer ${token}`);
      expect(r.headers.cookie).toBe(`sid=${cookie}`);
    }

    const spans = await otel.spans();
    expect(spans.length).toBeGreaterThan(0);
    const recorded = [
      JSON.stringify(otel.events.events),
      JSON.stringify(
        spans.map((s) => ({
          attributes: s.attributes,
          events: s.events,
          resource: s.resource.attributes,
        })),
      ),
      consoleLines.join(''),
      diagnostics.join('\n'),
      stderr.join(''),
    ].join('\n');
    expect(recorded).toContain('tools/call'); // the searched text is the real record
    expect(recorded).not.toContain(token);
    expect(recorded).not.toContain(cookie);
  });

  it('makes its SERVER span the parent of the upstream’s work through _meta', async () => {
    const otel = otelSetup();
    cleanups.push(() => otel.bus.shutdown());
    const { proxy } = await startBoth({ mode: 'stateful' }, telemetryOf(otel.bus, otel.otel));
    const { client } = await connect(proxy.url);
    const meta = JSON.parse(
      textOf(await client.callTool({ name: 'meta' }, undefined, OPTIONS)),
    ) as { traceparent?: string };
    const spans = await otel.spans();
    const span = spans.find((s) => s.name === 'tools/call meta');
    expect(span, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(meta.traceparent).toBe(
      `00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`,
    );
  });
});

describe('mcp-otel proxy: Streamable HTTP, stateless', () => {
  it('gives the same results, with no session, and keeps nothing per request', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateless', json: true });
    const direct = await connect(upstream.url);
    const proxied = await connect(proxy.url);
    expect(proxied.transport.sessionId).toBeUndefined();
    expect(await proxied.client.listTools(undefined, OPTIONS)).toEqual(
      await direct.client.listTools(undefined, OPTIONS),
    );
    const args = { name: 'echo', arguments: { text: 'stateless' } };
    expect(await proxied.client.callTool(args, undefined, OPTIONS)).toEqual(
      await direct.client.callTool(args, undefined, OPTIONS),
    );
    await bus.flush();
    expect(sink.ofType('session_start')).toHaveLength(0);
    const events = requests();
    expect(events.map((e) => `${e.mcpMethod}:${e.note}`)).toEqual([
      'initialize:ok',
      'notifications/initialized:notification',
      'tools/list:ok',
      'tools/call:ok',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ role: 'server', transport: 'streamable-http' });
      expect(event.sessionId).toBeUndefined();
    }
    expect(proxy.sessionCount).toBe(0);
  });

  it('answers 502 with a JSON-RPC error when the upstream is unreachable, and the request ends', async () => {
    const port = await closedPort();
    proxy = await startProxy({
      upstream: `http://127.0.0.1:${port}/mcp`,
      port: 0,
      host: '127.0.0.1',
      hostGiven: false,
      telemetry: telemetryOf(bus),
    });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      headers: POST_HEADERS,
      body: INITIALIZE,
    });
    expect(response.status).toBe(502);
    expect(response.headers['content-type']).toBe('application/json');
    const body = JSON.parse(response.body) as {
      jsonrpc: string;
      id: unknown;
      error: { code: number; message: string };
    };
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000 } });
    expect(body.error.message).toMatch(/^upstream unreachable: .*ECONNREFUSED/);
    await bus.flush();
    const event = only(requests('initialize'), 'one initialize');
    expect(event).toMatchObject({
      role: 'server',
      transport: 'streamable-http',
      note: 'upstream_error',
      httpStatus: 502,
      errorCode: '-32000',
    });
    expect(event.errorMsg).toMatch(/^upstream unreachable/);

    // The SDK client sees a failed connect, not a hang.
    const client = new Client({ name: 'c', version: '1' });
    await expect(
      client.connect(new StreamableHTTPClientTransport(proxy.url), OPTIONS),
    ).rejects.toThrow(/502|upstream unreachable/);
  });
});

describe('mcp-otel proxy: legacy HTTP+SSE', () => {
  it('proxies GET /sse and the POST endpoint; responses arrive on the stream', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' }, telemetryOf(bus), '/sse');
    expect(proxy.url.pathname).toBe('/sse');
    const client = new Client({ name: 'cursor', version: '1.0.0' });
    const transport = new SSEClientTransport(proxy.url);
    await within(client.connect(transport, OPTIONS), 'the legacy SSE connect');
    cleanups.push(() => client.close());
    const args = { name: 'echo', arguments: { text: 'legacy' } };
    expect(textOf(await client.callTool(args, undefined, OPTIONS))).toBe('legacy');
    await bus.flush();
    const endpoint = upstream.requests.find(
      (r) => r.method === 'POST' && r.url.startsWith('/messages'),
    );
    const upstreamSessionId = new URL(endpoint?.url ?? '/', 'http://x').searchParams.get(
      'sessionId',
    );
    expect(upstreamSessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(only(sink.ofType('session_start'), 'one session_start')).toMatchObject({
      sessionId: upstreamSessionId,
      transport: 'sse',
      clientName: 'cursor',
    });
    expect(only(requests('tools/call'), 'one tools/call')).toMatchObject({
      role: 'server',
      transport: 'sse',
      sessionId: upstreamSessionId,
      path: '/messages',
      note: 'ok',
    });
    expect(proxy.sessionCount).toBe(1);
    await client.close();
    await eventually(() => sink.ofType('session_end').length === 1, 'session_end');
    expect(sink.ofType('session_end')[0]).toMatchObject({
      sessionId: upstreamSessionId,
      reason: 'closed',
    });
    expect(proxy.sessionCount).toBe(0);
  });
});

describe('mcp-otel proxy: security', () => {
  it('never follows a redirect off the upstream’s origin: 502, and the other origin sees nothing', async () => {
    const bystander = await startBystander();
    cleanups.push(() => bystander.close());
    const { upstream, proxy } = await startBoth({
      mode: 'stateful',
      redirectTo: bystander.url.href,
    });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      headers: { ...POST_HEADERS, authorization: 'Bearer not-for-elsewhere' },
      body: INITIALIZE,
    });
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body)).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32000, message: 'upstream redirected off its origin (not followed)' },
    });
    expect(response.headers.location).toBeUndefined();
    expect(upstream.requests.map((r) => r.url)).toEqual(['/mcp']);
    expect(bystander.hits()).toBe(0);
    await bus.flush();
    expect(only(requests('initialize'), 'one initialize')).toMatchObject({
      note: 'upstream_error',
      httpStatus: 502,
      errorMsg: 'upstream redirected off its origin (not followed)',
    });
  });

  it('passes a redirect on the upstream’s origin back, pointing at the proxy', async () => {
    const { proxy } = await startBoth({ mode: 'stateful', redirectTo: '/moved' });
    const same = await rawRequest(proxy.url, {
      method: 'POST',
      headers: POST_HEADERS,
      body: INITIALIZE,
    });
    expect(same.status).toBe(307);
    expect(same.headers.location).toBe(`${proxy.url.origin}/moved`);
  });

  it('passes other paths through unobserved (OAuth metadata and the like)', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      path: '/register?x=1',
      headers: POST_HEADERS,
      body: INITIALIZE,
    });
    expect(response.status).toBe(404); // the upstream's own answer
    expect(JSON.parse(response.body)).toMatchObject({ error: { message: 'Not found' } });
    expect(upstream.requests.map((r) => r.url)).toEqual(['/register?x=1']);
    await bus.flush();
    expect(sink.events).toHaveLength(0);
  });

  it('only ever talks to the upstream’s origin, whatever the request target says', async () => {
    const bystander = await startBystander();
    cleanups.push(() => bystander.close());
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      path: `//127.0.0.1:${bystander.url.port}/mcp`,
      headers: POST_HEADERS,
      body: INITIALIZE,
    });
    expect(response.status).toBe(200);
    expect(bystander.hits()).toBe(0);
    expect(upstream.requests).toHaveLength(1);
  });

  it('answers only requests that name a loopback host (DNS rebinding)', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      headers: { ...POST_HEADERS, host: 'rebound.example' },
      body: INITIALIZE,
    });
    expect(response.status).toBe(403);
    expect(upstream.requests).toHaveLength(0);
    const fine = await rawRequest(proxy.url, {
      method: 'POST',
      headers: { ...POST_HEADERS, host: `localhost:${proxy.url.port}` },
      body: INITIALIZE,
    });
    expect(fine.status).toBe(200);
  });

  it('refuses bodies over the limit with 413, before the upstream sees them', async () => {
    const { upstream, proxy } = await startBoth({ mode: 'stateful' });
    const response = await rawRequest(proxy.url, {
      method: 'POST',
      headers: POST_HEADERS,
      body: `"${'x'.repeat(MAX_REQUEST_BODY_BYTES)}"`,
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ id: null, error: { code: -32000 } });
    expect(upstream.requests).toHaveLength(0);
  });

  it('binds loopback by default and a non-loopback address only when given explicitly', async () => {
    expect(checkBindAddress('127.0.0.1', false)).toEqual({ ok: true });
    expect(checkBindAddress('::1', false)).toEqual({ ok: true });
    expect(checkBindAddress('localhost', true)).toEqual({ ok: true });
    const refused = checkBindAddress('0.0.0.0', false);
    expect(refused.ok).toBe(false);
    const explicit = checkBindAddress('0.0.0.0', true);
    expect(explicit).toMatchObject({ ok: true });
    expect('warning' in explicit && explicit.warning).toMatch(/non-loopback address 0\.0\.0\.0/);

    await expect(
      startProxy({
        upstream: 'http://127.0.0.1:1/mcp',
        port: 0,
        host: '0.0.0.0',
        hostGiven: false,
        telemetry: telemetryOf(bus),
      }),
    ).rejects.toBeInstanceOf(UsageError);

    // The command: one line on stderr, exit code 2, nothing bound.
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      stderr.push(String(chunk));
      return true;
    });
    const options = {
      ...parseArgs(['proxy', '--upstream', 'http://127.0.0.1:1/mcp', '--no-otel']),
      host: '0.0.0.0',
    };
    expect(options.hostGiven).toBe(false);
    expect(options.host).toBe('0.0.0.0');
    const defaults = parseArgs(['proxy', '--upstream', 'http://127.0.0.1:1/mcp']);
    expect(defaults.host).toBe('127.0.0.1');
    expect(await runProxy(options, Promise.resolve())).toBe(2);
    expect(stderr.join('')).toMatch(
      /^mcp-otel: refusing to listen on non-loopback address 0\.0\.0\.0.*\n$/,
    );
  });
});

describe('mcp-otel proxy: the command', () => {
  it('runs until told to stop, then ends the sessions and writes the events out', async () => {
    upstream = await startUpstream({ mode: 'stateful' });
    const dir = await mkdtemp(join(tmpdir(), 'mcp-otel-proxy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'events.jsonl');
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      stderr.push(String(chunk));
      return true;
    });
    const options = parseArgs([
      'proxy',
      '--upstream',
      `${upstream.url.href}?key=query-canary`,
      '--port',
      '0',
      '--no-otel',
      '--jsonl',
      file,
      '--heartbeat-interval',
      '0',
    ]);
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const running = runProxy(options, stopped);
    await eventually(
      () => stderr.some((line) => line.includes('listening on')),
      'the listening line',
    );
    const line = stderr.find((l) => l.includes('listening on')) ?? '';
    expect(line).not.toContain('query-canary');
    const url = new URL(/listening on (\S+)/.exec(line)?.[1] ?? '');
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.pathname).toBe('/mcp');

    const client = new Client({ name: 'claude-ai', version: '0.9.0' });
    const transport = new StreamableHTTPClientTransport(url);
    await client.connect(transport, OPTIONS);
    cleanups.push(() => client.close());
    expect(
      textOf(
        await client.callTool({ name: 'echo', arguments: { text: 'cli' } }, undefined, OPTIONS),
      ),
    ).toBe('cli');
    // The upstream got its own query back on its own path.
    expect(upstream.requests.every((r) => r.url === '/mcp?key=query-canary')).toBe(true);

    stop();
    expect(await running).toBe(0);
    const events = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProxyEvent);
    const types = events.map((e) => e.type);
    expect(types).toContain('session_start');
    expect(events.find((e) => e.type === 'session_end')).toMatchObject({
      sessionId: transport.sessionId,
      reason: 'closed',
    });
    expect(
      events.some((e) => e.type === 'request' && e.mcpMethod === 'tools/call' && e.note === 'ok'),
    ).toBe(true);
    expect(stderr.filter((l) => l.includes('listening on'))).toHaveLength(1);
  });
});

describe('SseSplitter', () => {
  function split(chunks: readonly string[], max?: number): SseChunk[] {
    const splitter = new SseSplitter(max);
    const out: SseChunk[] = [];
    for (const chunk of chunks) splitter.push(Buffer.from(chunk), (piece) => out.push(piece));
    splitter.end((piece) => out.push(piece));
    return out;
  }

  it('keeps every byte, in order, whatever the chunking and line ends', () => {
    const stream =
      'event: message\r\nid: 1\r\ndata: {"a":1}\r\n\r\n: comment\rdata: x\rdata: y\r\r' +
      'data:{"b":2}\n\ndata: tail';
    const whole = split([stream]);
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      const pieces = split(chunks);
      expect(Buffer.concat(pieces.map((p) => p.raw)).toString()).toBe(stream);
      expect(pieces.map((p) => p.event)).toEqual(whole.map((p) => p.event));
    }
    expect(whole.map((p) => p.event && { type: p.event.type, data: p.event.data })).toEqual([
      { type: 'message', data: '{"a":1}' },
      { type: 'message', data: 'x\ny' },
      { type: 'message', data: '{"b":2}' },
      undefined, // the unterminated tail passes through unparsed
    ]);
  });

  it('passes an event over the cap through unparsed, then parses the next one', () => {
    const big = `data: ${'z'.repeat(100)}\n\n`;
    const pieces = split([big.slice(0, 60), big.slice(60), 'data: ok\n\n'], 50);
    expect(Buffer.concat(pieces.map((p) => p.raw)).toString()).toBe(big + 'data: ok\n\n');
    expect(pieces.filter((p) => p.event).map((p) => p.event?.data)).toEqual(['ok']);
  });
});
