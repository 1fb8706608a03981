/**
 * `mcp-otel wrap -- <command...>` against real processes: the real SDK Client over
 * StdioClientTransport pointed at the wrapper, servers that know nothing of mcp-otel (a plain
 * SDK server, a raw Python one, a byte recorder), and a server instrumented in-process whose
 * spans must nest under the proxy's. Every wait on another process is bounded.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type {
  ProxyEvent,
  RequestEvent,
  SessionEndEvent,
  SessionStartEvent,
} from '../../src/index.js';
import { SPAN_KIND_SERVER, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { StdioProxyTransport } from '../../src/cli/wrap.js';
import { setDiagnosticLogger } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const PLAIN_SERVER = fixture('plain-stdio-server.mjs');
const RECORDER = fixture('wrap-recorder.mjs');
const HANGING_SERVER = fixture('wrap-hanging-server.mjs');
const PYTHON_SERVER = fixture('wrap-python-server.py');
const INSTRUMENTED_SERVER = fixture('wrap-instrumented-server.ts');

/** Upper bound on any wait for another process. */
const WAIT_MS = 10_000;
/** Client-side request timeout: a hang fails fast instead of at the test timeout. */
const REQUEST_TIMEOUT_MS = 8_000;
/**
 * Timeout of initialize: it waits for the wrapper and the server to start, each a Node process
 * loading TypeScript through tsx and, with OTLP export on, the OpenTelemetry Node SDK: seconds
 * each on a loaded 2-core machine.
 */
const CONNECT_TIMEOUT_MS = 25_000;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const TRACE_KEYS = ['traceparent', 'tracestate', 'baggage'];

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-otel-wrap-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** The test's environment without any OTEL_* of the developer's, and no export by default. */
function wrapEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('OTEL_') && key !== 'MCP_OTEL_LOG_LEVEL') {
      env[key] = value;
    }
  }
  return {
    ...env,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    ...extra,
  };
}

function wrapArgs(flags: readonly string[], command: readonly string[]): string[] {
  return ['--import', 'tsx', MAIN, 'wrap', ...flags, '--', ...command];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `predicate` holds, at most WAIT_MS; for other processes only. */
async function waitUntil(predicate: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms: ${what()}`);
    await sleep(25);
  }
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The wrapper as a plain child process: raw bytes in, raw bytes out. */
interface RawWrapper {
  readonly process: ChildProcessWithoutNullStreams;
  stdout(): Buffer;
  stderr(): string;
  write(bytes: Buffer | string): Promise<void>;
  /** Resolves with the exit, or rejects after WAIT_MS. */
  exit(): Promise<Exit>;
}

function startRawWrapper(
  flags: readonly string[],
  command: readonly string[],
  env: Record<string, string>,
): RawWrapper {
  const child = spawn(process.execPath, wrapArgs(flags, command), { cwd: ROOT, env });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  child.stdin.on('error', () => undefined); // the wrapper may be gone before we stop writing
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    process: child,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    write: (bytes) =>
      new Promise((resolve, reject) =>
        child.stdin.write(bytes, (error) => (error ? reject(error) : resolve())),
      ),
    exit: () =>
      Promise.race([
        exited,
        sleep(WAIT_MS).then(() => {
          throw new Error(`wrapper did not exit within ${WAIT_MS} ms; stderr:\n${err}`);
        }),
      ]),
  };
}

/** The real SDK client, spawning the wrapper through StdioClientTransport. */
function wrappedTransport(
  flags: readonly string[],
  command: readonly string[],
  env: Record<string, string>,
): { transport: StdioClientTransport; stderr: () => string } {
  return clientTransport(process.execPath, wrapArgs(flags, command), env);
}

function clientTransport(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): { transport: StdioClientTransport; stderr: () => string } {
  const transport = new StdioClientTransport({
    command,
    args: [...args],
    env,
    cwd: ROOT,
    stderr: 'pipe',
  });
  let text = '';
  transport.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { transport, stderr: () => text };
}

async function connect(
  transport: StdioClientTransport,
): Promise<{ client: Client; errors: Error[] }> {
  const client = new Client({ name: 'claude-ai', version: '0.9.0' });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  cleanups.push(() => client.close().catch(() => undefined));
  await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  return { client, errors };
}

function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

async function waitForEvents(
  path: string,
  done: (events: ProxyEvent[]) => boolean,
  stderr: () => string,
): Promise<ProxyEvent[]> {
  let events: ProxyEvent[] = [];
  await waitUntil(
    () => done((events = readJsonl<ProxyEvent>(path))),
    () =>
      `events so far:\n${events.map((e) => JSON.stringify(e)).join('\n')}\nstderr:\n${stderr()}`,
  );
  return events;
}

const requestsOf = (events: readonly ProxyEvent[]): RequestEvent[] =>
  events.filter((e): e is RequestEvent => e.type === 'request');

/** A span as the stderr exporter (OTEL_TRACES_EXPORTER=console) prints it. */
interface ConsoleSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly status: { code: number; message?: string };
  readonly resource: Record<string, unknown>;
}

function consoleSpans(stderr: string): ConsoleSpan[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{"traceId"'))
    .map((line) => JSON.parse(line) as ConsoleSpan);
}

/** Lines of a byte stream, each with its own `\n` (the last may lack it). */
function linesOf(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, at + 1));
    start = at + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

function parsed(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `received` without the trace keys the proxy added (and the `_meta`/`params` it created). */
function withoutTraceContext(received: Json, sent: Json): Json {
  const copy = structuredClone(received);
  const params = copy.params;
  if (!isObject(params) || !isObject(params._meta)) return copy;
  const sentMeta = isObject(sent.params) && isObject(sent.params._meta) ? sent.params._meta : {};
  for (const key of TRACE_KEYS) {
    if (Object.hasOwn(sentMeta, key)) params._meta[key] = sentMeta[key];
    else delete params._meta[key];
  }
  if (Object.keys(params._meta).length === 0 && !(isObject(sent.params) && '_meta' in sent.params))
    delete params._meta;
  if (Object.keys(params).length === 0 && !('params' in sent)) delete copy.params;
  return copy;
}

/** `received` is `sent` with bytes inserted at one place and nothing else changed. */
function isContiguousInsertion(sent: Buffer, received: Buffer): boolean {
  if (received.length <= sent.length) return false;
  let prefix = 0;
  while (prefix < sent.length && sent[prefix] === received[prefix]) prefix++;
  const added = received.length - sent.length;
  return received.subarray(prefix + added).equals(sent.subarray(prefix));
}

// ---------------------------------------------------------------------------------------------
// The scripted client for byte-level tests

const HUGE_TEXT = 'x'.repeat(1024 * 1024);
const CLIENT_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const SPLIT_LINE =
  '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","arguments":{"text":"split across writes"}}}\n';

type Step =
  | { readonly write: Buffer }
  /** Wait until the wrapper's stdout holds this text (the server answered something). */
  | { readonly awaitStdout: string };

/** What a client might throw at a server; every kind of line the issue names. */
function script(): Step[] {
  const b = (text: string): Buffer => Buffer.from(text, 'utf8');
  const splitAt = Math.floor(SPLIT_LINE.length / 2);
  return [
    {
      write: b(
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},"clientInfo":{"name":"raw-client","version":"1.0.0"}}}\n',
      ),
    },
    { write: b('{"jsonrpc":"2.0","method":"notifications/initialized"}\n') },
    // The recorder sends roots/list once initialized; answer it like a client would.
    { awaitStdout: '"srv-1"' },
    { write: b('{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}\n') },
    {
      write: b(
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"héllo 🌍 \u2028 \\u00e9 \\ud83c\\udf0d"}}}\n',
      ),
    },
    { write: b('this is not JSON at all\n') },
    { write: Buffer.from([0xff, 0xfe, 0x21, 0x0a]) }, // not UTF-8 either
    { write: b('{"jsonrpc":"2.0","id":3,"method":"ping"}\r\n') },
    {
      write: b(
        '[{"jsonrpc":"2.0","id":4,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}]\n',
      ),
    },
    {
      write: b(
        `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${HUGE_TEXT}"}}}\n`,
      ),
    },
    { write: b('{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"big"}}\n') },
    // An id beyond 2^53, number spellings and escapes JSON.parse does not keep, and spacing.
    {
      write: b(
        '{ "jsonrpc": "2.0", "id": 9007199254740993, "method": "tools/call", "params": { "name": "echo", "arguments": { "n": 1.10, "e": 1E2, "s": "\\u00e9\\/" } } }\n',
      ),
    },
    // Positional params: there is nowhere to put _meta.
    { write: b('{"jsonrpc":"2.0","id":7,"method":"custom/positional","params":[1,2,3]}\n') },
    {
      write: b(
        '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"fail","_meta":{"progressToken":"p-1"}}}\n',
      ),
    },
    // The client traces too: the proxy's span becomes its child, tracestate stays.
    {
      write: b(
        `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","_meta":{"traceparent":"${CLIENT_TRACEPARENT}","tracestate":"vendor=x"}}}\n` +
          SPLIT_LINE.slice(0, splitAt),
      ),
    },
    // The wrapper has handled the chunk above (id 10 answered) and holds half a line.
    { awaitStdout: '"id": 10,' },
    { write: b(SPLIT_LINE.slice(splitAt)) },
    // A last line without a newline: forwarded when stdin ends.
    { write: b('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}') },
  ];
}

interface Recording {
  readonly sent: Buffer;
  /** What the recorder read from its stdin. */
  readonly received: Buffer;
  /** What the recorder wrote to its stdout. */
  readonly serverWrote: Buffer;
  /** What the wrapper wrote to its stdout. */
  readonly clientGot: Buffer;
  readonly stderr: string;
  readonly exit: Exit;
}

async function recordScript(
  flags: readonly string[],
  env: Record<string, string> = {},
): Promise<Recording> {
  const recordIn = join(dir, 'server-stdin.bin');
  const recordOut = join(dir, 'server-stdout.bin');
  const wrapper = startRawWrapper(
    flags,
    [process.execPath, RECORDER],
    wrapEnv({ RECORD_IN: recordIn, RECORD_OUT: recordOut, ...env }),
  );
  const sent: Buffer[] = [];
  for (const step of script()) {
    if ('write' in step) {
      sent.push(step.write);
      await wrapper.write(step.write);
    } else {
      await waitUntil(
        () => wrapper.stdout().includes(step.awaitStdout),
        () => `no ${step.awaitStdout} on stdout; stderr:\n${wrapper.stderr()}`,
      );
    }
  }
  wrapper.process.stdin.end();
  const exit = await wrapper.exit();
  return {
    sent: Buffer.concat(sent),
    received: readFileSync(recordIn),
    serverWrote: readFileSync(recordOut),
    clientGot: wrapper.stdout(),
    stderr: wrapper.stderr(),
    exit,
  };
}

// ---------------------------------------------------------------------------------------------

describe('mcp-otel wrap: a real SDK client, a server that knows nothing of mcp-otel', () => {
  /** Everything a client sees of the plain server, one way or the other. */
  async function session(transport: StdioClientTransport) {
    const { client, errors } = await connect(transport);
    const options = { timeout: REQUEST_TIMEOUT_MS };
    const outcome = {
      serverVersion: client.getServerVersion(),
      capabilities: client.getServerCapabilities(),
      tools: await client.listTools(undefined, options),
      echo: await client.callTool(
        { name: 'echo', arguments: { text: 'héllo 🌍' } },
        undefined,
        options,
      ),
      fail: await client.callTool({ name: 'fail', arguments: {} }, undefined, options),
      slow: await client.callTool({ name: 'slow', arguments: { ms: 20 } }, undefined, options),
      unknown: await client
        .callTool({ name: 'no-such-tool', arguments: {} }, undefined, options)
        .catch((error: unknown) => ({ threw: String(error) })),
      ping: await client.ping(options),
    };
    await client.close();
    return { outcome, errors };
  }

  it('gives the client the same results as a direct connection, and emits events and spans', async () => {
    const direct = await session(
      clientTransport(process.execPath, [PLAIN_SERVER], wrapEnv()).transport,
    );
    const eventsFile = join(dir, 'events.jsonl');
    const { transport, stderr } = wrappedTransport(
      ['--console', '--jsonl', eventsFile],
      [process.execPath, PLAIN_SERVER],
      wrapEnv({ OTEL_TRACES_EXPORTER: 'console' }),
    );
    const wrapped = await session(transport);

    // Nothing but JSON-RPC reached the client (a stray byte on stdout would be an error here).
    expect(wrapped.errors).toEqual([]);
    expect(direct.errors).toEqual([]);
    // The one difference: the server received the proxy's trace context in _meta.
    const receivedMeta = (wrapped.outcome.echo._meta as { receivedMeta: Record<string, unknown> })
      .receivedMeta;
    expect(receivedMeta.traceparent).toMatch(TRACEPARENT);
    expect((direct.outcome.echo._meta as { receivedMeta: unknown }).receivedMeta).toBeNull();
    const same = structuredClone(wrapped.outcome);
    (same.echo._meta as { receivedMeta: unknown }).receivedMeta = null;
    expect(same).toEqual(direct.outcome);
    expect(direct.outcome.fail.isError).toBe(true);

    const events = await waitForEvents(
      eventsFile,
      (all) => all.some((e) => e.type === 'session_end'),
      stderr,
    );
    const start = events.find((e): e is SessionStartEvent => e.type === 'session_start');
    expect(start).toMatchObject({
      clientName: 'claude-ai',
      clientVersion: '0.9.0',
      clientPlatform: 'claude',
      transport: 'stdio',
      role: 'server',
      server: 'plain-server',
      serverName: 'plain-server',
      serverVersion: '3.1.4',
    });
    const requests = requestsOf(events);
    for (const request of requests) {
      expect(request).toMatchObject({
        role: 'server',
        transport: 'stdio',
        sessionId: start!.sessionId,
        server: 'plain-server',
      });
    }
    const calls = requests.filter((r) => r.mcpMethod === 'tools/call');
    expect(calls.map((r) => [r.tool, r.note])).toEqual([
      ['echo', 'ok'],
      ['fail', 'tool_error'],
      ['slow', 'ok'],
      ['no-such-tool', expect.stringMatching(/^(error|tool_error)$/)],
    ]);
    expect(calls[1]!.errorMsg).toBe('nope');
    expect(requests.some((r) => r.mcpMethod === 'tools/list' && r.note === 'ok')).toBe(true);
    expect(requests.some((r) => r.mcpMethod === 'ping' && r.note === 'ok')).toBe(true);
    const end = events.find((e): e is SessionEndEvent => e.type === 'session_end');
    expect(end).toMatchObject({ reason: 'closed', requestCount: 7 });

    // --console: pretty lines on stderr.
    expect(stderr()).toMatch(/session\+ \w+ +claude-ai 0\.9\.0 \(claude\)/);
    expect(stderr()).toMatch(/← tools\/call echo .* ok/);

    // Spans on stderr (OTEL_TRACES_EXPORTER=console): SERVER spans of the proxy, and the one
    // the server received as its parent.
    let spans: ConsoleSpan[] = [];
    await waitUntil(
      () => (spans = consoleSpans(stderr())).some((s) => s.name === 'tools/call fail'),
      () => `spans on stderr:\n${stderr()}`,
    );
    const echo = spans.find((s) => s.name === 'tools/call echo');
    expect(echo).toMatchObject({
      kind: SpanKind.SERVER,
      attributes: {
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'echo',
        'mcp.session.id': start!.sessionId,
        'network.transport': 'pipe',
      },
      resource: { 'mcp.client.name': 'claude-ai', 'service.name': 'plain-server' },
    });
    const [, traceId, spanId] = TRACEPARENT.exec(receivedMeta.traceparent as string)!;
    expect([traceId, spanId]).toEqual([echo!.traceId, echo!.spanId]);
    const fail = spans.find((s) => s.name === 'tools/call fail');
    expect(fail).toMatchObject({
      kind: SpanKind.SERVER,
      status: { code: 2, message: 'nope' },
      attributes: { 'error.type': 'tool_error' },
    });
  }, 40_000);

  it('makes the proxy span the parent of the real server’s span (OTLP, both processes)', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const { transport, stderr } = wrappedTransport(
      ['--service-name', 'wrap-proxy', '--heartbeat-interval', '0'],
      [process.execPath, '--import', 'tsx', INSTRUMENTED_SERVER],
      wrapEnv({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '50',
      }),
    );
    const { client, errors } = await connect(transport);
    const result = await client.callTool(
      { name: 'echo', arguments: { text: 'nested' } },
      undefined,
      { timeout: REQUEST_TIMEOUT_MS },
    );
    expect(result.content).toEqual([{ type: 'text', text: 'nested' }]);
    await client.close();

    const echoSpan = (service: string) =>
      receiver
        .spans()
        .find(
          ({ span, resource }) =>
            span.name === 'tools/call echo' &&
            span.kind === SPAN_KIND_SERVER &&
            resource['service.name'] === service,
        )?.span;
    await waitUntil(
      () => echoSpan('wrap-proxy') !== undefined && echoSpan('instrumented-child') !== undefined,
      () =>
        `spans: ${JSON.stringify(receiver.spans().map((s) => [s.span.name, s.resource['service.name']]))}\nstderr:\n${stderr()}`,
    );
    const proxy = echoSpan('wrap-proxy')!;
    const server = echoSpan('instrumented-child')!;
    expect(server.traceId).toBe(proxy.traceId);
    expect(server.parentSpanId).toBe(proxy.spanId);
    expect(proxy.parentSpanId).toBe('');
    expect(errors).toEqual([]);
  }, 40_000);

  it('instruments a Python server speaking raw JSON-RPC (when python3 is on PATH)', async () => {
    const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
    const eventsFile = join(dir, 'events.jsonl');
    if (python.error) {
      // No python3 here: the wrapper must still say so in one line and exit 127.
      const wrapper = startRawWrapper(
        ['--jsonl', eventsFile],
        ['python3', PYTHON_SERVER],
        wrapEnv(),
      );
      const exit = await wrapper.exit();
      expect(exit.code).toBe(127);
      expect(wrapper.stderr()).toMatch(/^mcp-otel: could not start 'python3': .*ENOENT\n$/);
      return;
    }
    const { transport, stderr } = wrappedTransport(
      ['--jsonl', eventsFile],
      ['python3', PYTHON_SERVER],
      wrapEnv({ PYTHONUNBUFFERED: '1' }),
    );
    const { client, errors } = await connect(transport);
    expect(client.getServerVersion()).toEqual({ name: 'python-raw', version: '0.1.0' });
    const options = { timeout: REQUEST_TIMEOUT_MS };
    const echo = await client.callTool(
      { name: 'echo', arguments: { text: 'ß' } },
      undefined,
      options,
    );
    expect(echo.content).toEqual([{ type: 'text', text: 'ß' }]);
    expect(
      (echo._meta as { receivedMeta: { traceparent?: string } }).receivedMeta.traceparent,
    ).toMatch(TRACEPARENT);
    const fail = await client.callTool({ name: 'fail', arguments: {} }, undefined, options);
    expect(fail.isError).toBe(true);
    await client.close();
    expect(errors).toEqual([]);

    const events = await waitForEvents(
      eventsFile,
      (all) => all.some((e) => e.type === 'session_end'),
      stderr,
    );
    expect(events.find((e) => e.type === 'session_start')).toMatchObject({
      serverName: 'python-raw',
      clientName: 'claude-ai',
      transport: 'stdio',
    });
    expect(
      requestsOf(events)
        .filter((r) => r.mcpMethod === 'tools/call')
        .map((r) => [r.tool, r.note, r.errorMsg]),
    ).toEqual([
      ['echo', 'ok', undefined],
      ['fail', 'tool_error', 'python says no'],
    ]);
    expect(stderr()).toContain('wrap-python-server: ready');
  }, 40_000);
});

describe('mcp-otel wrap: byte for byte', () => {
  it('--no-propagate: the server gets exactly the client’s bytes and the client exactly the server’s', async () => {
    const recording = await recordScript(['--no-propagate', '--console']);
    expect(recording.received.equals(recording.sent)).toBe(true);
    expect(recording.clientGot.equals(recording.serverWrote)).toBe(true);
    // Sanity: the script and the answers really held what this test is about.
    expect(recording.sent.length).toBeGreaterThan(1024 * 1024);
    expect(recording.serverWrote.length).toBeGreaterThan(1024 * 1024);
    expect(recording.serverWrote.toString('utf8')).toContain('this line is not JSON');
    // The recorder exits 3 on EOF: the client closed stdin, the server saw EOF, the wrapper
    // ended with the server's code.
    expect(recording.exit).toEqual({ code: 3, signal: null });
    // The child's stderr came through; ours says what it passed on.
    expect(recording.stderr).toContain('wrap-recorder: ready\n');
    // Two from the client (one not even UTF-8), one from the server.
    expect(recording.stderr).toContain('passed 3 non-JSON line(s) through unchanged');
    // The events were still recorded (--console), the batch's request included.
    expect(recording.stderr).toMatch(/← tools\/list/);
  }, 40_000);

  it('with propagation, the only change is trace context spliced into requests’ _meta', async () => {
    const recording = await recordScript([]);
    expect(recording.exit).toEqual({ code: 3, signal: null });

    const compare = (sent: Buffer, received: Buffer, side: string): string[] => {
      const sentLines = linesOf(sent);
      const receivedLines = linesOf(received);
      expect(receivedLines.length, side).toBe(sentLines.length);
      const traceparents: string[] = [];
      sentLines.forEach((line, i) => {
        const got = receivedLines[i]!;
        const message = parsed(line);
        const where = `${side} line ${i}: ${line.toString('utf8').slice(0, 120)}`;
        // A last line without a newline is one no SDK would read as a message: passed on as is.
        const carriesContext =
          line.at(-1) === 0x0a &&
          isObject(message) &&
          typeof message.method === 'string' &&
          (message.params === undefined || isObject(message.params));
        if (!carriesContext) {
          // Responses, batches, non-JSON, positional params, the unterminated line: untouched.
          expect(got.equals(line), where).toBe(true);
          return;
        }
        const received = parsed(got);
        expect(isObject(received), where).toBe(true);
        const meta = ((received as Json).params as Json)._meta as Json;
        expect(meta.traceparent, where).toMatch(TRACEPARENT);
        traceparents.push(meta.traceparent as string);
        expect(withoutTraceContext(received as Json, message), where).toEqual(message);
        const sentMeta = isObject(message.params) ? message.params._meta : undefined;
        if (isObject(sentMeta) && typeof sentMeta.traceparent === 'string') {
          // Replaced in place, every other byte kept.
          expect(got.toString('utf8'), where).toBe(
            line.toString('utf8').replace(sentMeta.traceparent, meta.traceparent as string),
          );
        } else {
          // Inserted at one place, every other byte kept (big ids, escapes, CRLF, spacing).
          expect(isContiguousInsertion(line, got), where).toBe(true);
        }
      });
      return traceparents;
    };

    const toServer = compare(recording.sent, recording.received, 'server-bound');
    const toClient = compare(recording.serverWrote, recording.clientGot, 'client-bound');
    // Requests and notifications with room for _meta: initialize, initialized, ping and seven
    // calls from the client; roots/list and a log message from the server.
    expect(toServer).toHaveLength(10);
    expect(toClient).toHaveLength(2);
    expect(new Set([...toServer, ...toClient]).size).toBe(toServer.length + toClient.length);

    const receivedText = recording.received.toString('utf8');
    expect(receivedText).toContain('"id": 9007199254740993,');
    expect(receivedText).toContain('"n": 1.10, "e": 1E2, "s": "\\u00e9\\/"');
    expect(receivedText).toContain(
      '{"jsonrpc":"2.0","id":7,"method":"custom/positional","params":[1,2,3]}\n',
    );
    expect(receivedText).toMatch(/"_meta":\{"progressToken":"p-1","traceparent":"00-/);
    // The client's own context: the proxy's span is its child (same trace), tracestate stays.
    const clientCall = linesOf(recording.received).find((l) => l.includes('"id":10,'))!;
    const clientMeta = ((parsed(clientCall) as Json).params as Json)._meta as Json;
    expect(clientMeta.traceparent).not.toBe(CLIENT_TRACEPARENT);
    expect(TRACEPARENT.exec(clientMeta.traceparent as string)![1]).toBe(
      TRACEPARENT.exec(CLIENT_TRACEPARENT)![1],
    );
    expect(clientMeta.tracestate).toBe('vendor=x');
  }, 40_000);

  it('keeps the exact order of lines of every kind, many per chunk and split across chunks', async () => {
    for (const flags of [[], ['--no-propagate']]) {
      const recordIn = join(dir, `in${flags.length}.bin`);
      const recordOut = join(dir, `out${flags.length}.bin`);
      const wrapper = startRawWrapper(
        flags,
        [process.execPath, RECORDER],
        wrapEnv({ RECORD_IN: recordIn, RECORD_OUT: recordOut }),
      );
      await wrapper.write(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mixed"}}\n',
      );
      await waitUntil(
        () => wrapper.stdout().includes('"text":"mixed"}]}}\n'),
        () => `no answer on stdout; stderr:\n${wrapper.stderr()}`,
      );
      wrapper.process.stdin.end();
      expect(await wrapper.exit()).toEqual({ code: 3, signal: null });
      const serverWrote = readFileSync(recordOut);
      const clientGot = wrapper.stdout();
      if (flags.length > 0) {
        expect(clientGot.equals(serverWrote)).toBe(true);
        continue;
      }
      const wrote = linesOf(serverWrote);
      const got = linesOf(clientGot);
      expect(got).toHaveLength(wrote.length);
      expect(wrote.length).toBeGreaterThan(300);
      wrote.forEach((line, i) => {
        const message = parsed(line) as Json;
        const where = `line ${i}: ${line.toString('utf8')}`;
        if (typeof message.method !== 'string') {
          // Responses go out before they are observed, exactly as they came.
          expect(got[i]!.equals(line), where).toBe(true);
          return;
        }
        const received = parsed(got[i]!) as Json;
        expect(((received.params as Json)._meta as Json).traceparent, where).toMatch(TRACEPARENT);
        expect(withoutTraceContext(received, message), where).toEqual(message);
        expect(isContiguousInsertion(line, got[i]!), where).toBe(true);
      });
    }
  }, 40_000);

  it('a client that stops reading holds the server back, without piling up listeners', async () => {
    const recordOut = join(dir, 'server-stdout.bin');
    const wrapper = startRawWrapper(
      ['--no-propagate'],
      [process.execPath, RECORDER],
      wrapEnv({ RECORD_IN: join(dir, 'server-stdin.bin'), RECORD_OUT: recordOut }),
    );
    wrapper.process.stdout.pause();
    // Thousands of lines in one write, far more than the pipes hold.
    await wrapper.write(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"burst"}}\n',
    );
    await waitUntil(
      () => existsSync(recordOut) && readFileSync(recordOut).length > 256 * 1024,
      () => `the recorder did not answer; stderr:\n${wrapper.stderr()}`,
    );
    // Give the wrapper time to run into the full pipe (a write per line, each refused).
    await sleep(500);
    wrapper.process.stdout.resume();
    wrapper.process.stdin.end();
    expect((await wrapper.exit()).code).toBe(3);
    expect(wrapper.stdout().equals(readFileSync(recordOut))).toBe(true);
    expect(wrapper.stderr()).not.toContain('MaxListenersExceededWarning');
  }, 40_000);

  it('keeps stdout for the server’s bytes even when OpenTelemetry logs to the console', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const recording = await recordScript(['--no-propagate'], {
      // The OTel diag console logger and the console metrics exporter write to stdout.
      OTEL_LOG_LEVEL: 'debug',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'console',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    expect(recording.clientGot.equals(recording.serverWrote)).toBe(true);
    expect(recording.received.equals(recording.sent)).toBe(true);
    // The diagnostics did happen, on stderr.
    expect(recording.stderr).toContain('@opentelemetry/api: Registered a global for trace');
    expect(recording.exit.code).toBe(3);
  }, 40_000);
});

describe('mcp-otel wrap: exits and signals', () => {
  it('the server killed mid-request: the client sees the close, the request ends closed, the wrapper fails', async () => {
    const eventsFile = join(dir, 'events.jsonl');
    const pidFile = join(dir, 'server.pid');
    const statusFile = join(dir, 'wrapper.status');
    // sh only records the wrapper's exit status, which StdioClientTransport does not expose.
    const { transport, stderr } = clientTransport(
      '/bin/sh',
      [
        '-c',
        '"$0" "$@"; echo $? > "$STATUS_FILE"',
        process.execPath,
        ...wrapArgs(['--jsonl', eventsFile], [process.execPath, HANGING_SERVER]),
      ],
      wrapEnv({ PID_FILE: pidFile, STATUS_FILE: statusFile }),
    );
    const { client } = await connect(transport);
    let closed = false;
    const previousOnclose = client.onclose;
    client.onclose = () => {
      closed = true;
      previousOnclose?.();
    };
    const call = client
      .callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 30_000 })
      .then(
        () => 'answered',
        (error: unknown) => String(error),
      );
    await waitUntil(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0,
      () => `the hang tool never ran; stderr:\n${stderr()}`,
    );
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');

    const outcome = await Promise.race([call, sleep(WAIT_MS).then(() => 'still pending')]);
    expect(outcome).toMatch(/Connection closed/);
    expect(closed).toBe(true);

    await waitUntil(
      () => existsSync(statusFile) && readFileSync(statusFile, 'utf8').trim() !== '',
      () => `the wrapper did not exit; stderr:\n${stderr()}`,
    );
    // The wrapper ends the way the server did: by SIGKILL (shell status 128 + 9).
    expect(readFileSync(statusFile, 'utf8').trim()).toBe('137');

    const events = readJsonl<ProxyEvent>(eventsFile);
    const hang = requestsOf(events).find((r) => r.tool === 'hang');
    expect(hang).toMatchObject({ role: 'server', transport: 'stdio', note: 'closed' });
    expect(events.find((e) => e.type === 'session_end')).toMatchObject({
      reason: 'closed',
      errorCount: 1,
    });
  }, 40_000);

  it('SIGTERM to the wrapper reaches the server, and the wrapper exits with its code', async () => {
    const signalFile = join(dir, 'signal.txt');
    const wrapper = startRawWrapper(
      [],
      [process.execPath, RECORDER],
      wrapEnv({
        RECORD_IN: join(dir, 'in.bin'),
        RECORD_OUT: join(dir, 'out.bin'),
        RECORD_SIGNAL: signalFile,
      }),
    );
    await wrapper.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    await waitUntil(
      () => wrapper.stdout().includes('"id":1'),
      () => `no answer; stderr:\n${wrapper.stderr()}`,
    );
    wrapper.process.kill('SIGTERM');
    const exit = await wrapper.exit();
    expect(readFileSync(signalFile, 'utf8')).toBe('SIGTERM\n');
    expect(exit).toEqual({ code: 42, signal: null });
  }, 40_000);

  it('a server that dies of the forwarded SIGTERM: the wrapper dies of it too', async () => {
    const wrapper = startRawWrapper([], [process.execPath, PLAIN_SERVER], wrapEnv());
    await wrapper.write(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
    );
    await waitUntil(
      () => wrapper.stdout().includes('"plain-server"'),
      () => `no answer; stderr:\n${wrapper.stderr()}`,
    );
    wrapper.process.kill('SIGTERM');
    expect(await wrapper.exit()).toEqual({ code: null, signal: 'SIGTERM' });
  }, 40_000);

  it('a command that does not exist: one line on stderr, nothing on stdout, exit code 127', async () => {
    const wrapper = startRawWrapper([], ['mcp-otel-test-no-such-command', '--flag'], wrapEnv());
    const exit = await wrapper.exit();
    expect(exit).toEqual({ code: 127, signal: null });
    expect(wrapper.stdout().length).toBe(0);
    expect(wrapper.stderr()).toMatch(
      /^mcp-otel: could not start 'mcp-otel-test-no-such-command': [^\n]*ENOENT\n$/,
    );
  }, 40_000);

  it('a command that is not executable: one line on stderr, exit code 126', async () => {
    const script = join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const wrapper = startRawWrapper([], [script], wrapEnv());
    expect(await wrapper.exit()).toEqual({ code: 126, signal: null });
    expect(wrapper.stdout().length).toBe(0);
    expect(wrapper.stderr()).toMatch(/^mcp-otel: could not start '[^']+': [^\n]*EACCES\n$/);
  }, 40_000);
});

describe('mcp-otel wrap: observation is never on the message path', () => {
  const response = { jsonrpc: '2.0', id: 1, result: {} };
  const responseLine = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}\n');
  const request = { jsonrpc: '2.0', id: 'srv-1', method: 'roots/list' };
  const requestLine = Buffer.from('{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}\n');

  const reported: string[] = [];
  beforeEach(() => {
    reported.length = 0;
    setDiagnosticLogger({ warn: (m) => reported.push(m), error: (m) => reported.push(m) });
  });
  afterEach(() => setDiagnosticLogger(undefined));

  function proxy(injects: boolean) {
    const written: Buffer[] = [];
    const transport = new StdioProxyTransport((chunk) => written.push(chunk), injects);
    return { transport, written };
  }

  it('a response goes to the client before it is observed, and even when observing throws', () => {
    const { transport, written } = proxy(true);
    const seenWhenObserved: number[] = [];
    transport.send = () => {
      seenWhenObserved.push(written.length);
      throw new Error('observer broke');
    };
    expect(() => transport.fromServer(response, responseLine)).not.toThrow();
    expect(written).toEqual([responseLine]);
    expect(seenWhenObserved).toEqual([1]);
    expect(reported).toEqual([expect.stringMatching(/observer broke/)]);
  });

  it('a request that may get trace context is written once: by send, or after a failed observation', () => {
    const observed = proxy(true);
    observed.transport.fromServer(request, requestLine);
    expect(observed.written).toEqual([requestLine]);

    const failed = proxy(true);
    failed.transport.send = () => {
      throw new Error('observer broke');
    };
    expect(() => failed.transport.fromServer(request, requestLine)).not.toThrow();
    expect(failed.written).toEqual([requestLine]);
    expect(reported).toEqual([expect.stringMatching(/observer broke/)]);
  });

  it('without propagation a request goes out first, once', () => {
    const { transport, written } = proxy(false);
    const original = transport.send.bind(transport);
    const seenWhenObserved: number[] = [];
    transport.send = (message: unknown) => {
      seenWhenObserved.push(written.length);
      return original(message);
    };
    transport.fromServer(request, requestLine);
    expect(written).toEqual([requestLine]);
    expect(seenWhenObserved).toEqual([1]);
  });
});
