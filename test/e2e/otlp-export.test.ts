/**
 * End to end: the one-line setup (`instrument(server)`, `instrument(client)`, no options) in a
 * child process, configured only through OTEL_* variables, exporting over a real socket to an
 * OTLP/HTTP receiver in this process that decodes with the official opentelemetry-proto
 * definitions. One child per scenario, so the OTel globals our pipeline registers (NodeSDK)
 * never leak between tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import {
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  STATUS_CODE_ERROR,
  decodeTraces,
  startOtlpReceiver,
  waitFor,
  type OtlpAttributes,
  type OtlpReceiver,
  type OtlpSpan,
} from '../helpers/otlp-receiver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/e2e-server.ts', import.meta.url));
/** The child is killed past this; a hang fails the test instead of the suite. */
const CHILD_DEADLINE_MS = 25_000;
const SERVICE_NAME = 'e2e-otel-service';
/**
 * Calls in the burst scenario (two spans each). In-memory calls chained on promises never yield
 * to I/O, so nothing is exported until the burst ends: the whole burst must fit the queue (the
 * SDK's 2,048 does not) and then be exported within shutdown()'s 5 s bound. 20,000 calls
 * (40,000 spans) export in ~1.6 s on an idle 2-core machine but took over 5 s under load, so
 * the test uses 10,000: the same starvation, with a safe margin against the bound.
 */
const BURST_CALLS = 10_000;
const BURST_DEADLINE_MS = 50_000;

/** What the fixture reports on its `E2E_OK` stderr line. */
interface FixtureSummary {
  scenario: string;
  echo?: { type: string; text: string }[];
  failIsError?: boolean;
  tools?: string[];
  calls?: number;
  callsMs: number;
  shutdownMs: number;
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  summary: FixtureSummary | undefined;
}

let receiver: OtlpReceiver;
const children = new Set<ChildProcess>();

beforeEach(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  }
  children.clear();
  await receiver.close();
});

/** The parent's environment without any OTEL_* variable, plus the scenario's. */
function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OTEL_')) env[key] = value;
  }
  return {
    ...env,
    OTEL_SERVICE_NAME: SERVICE_NAME,
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    ...vars,
  };
}

/** Runs the fixture to completion (bounded), capturing both streams. */
async function runFixture(
  vars: Record<string, string>,
  deadlineMs = CHILD_DEADLINE_MS,
): Promise<ChildResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: childEnv(vars),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  // 'close', not 'exit': both pipes are drained by then.
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  const line = stderr.split('\n').find((l) => l.startsWith('E2E_OK '));
  const summary = line ? (JSON.parse(line.slice('E2E_OK '.length)) as FixtureSummary) : undefined;
  return { code, signal, stdout, stderr, summary };
}

function expectCleanRun(result: ChildResult): FixtureSummary {
  expect(result, `child stderr:\n${result.stderr}`).toMatchObject({ code: 0, signal: null });
  // A stdio server's stdout is the JSON-RPC channel: nothing of ours may ever appear there.
  expect(result.stdout).toBe('');
  expect(result.summary).toBeDefined();
  return result.summary!;
}

function expectMcpCallsWorked(summary: FixtureSummary): void {
  expect(summary.echo).toEqual([{ type: 'text', text: 'hi' }]);
  expect(summary.failIsError).toBe(true);
  expect(summary.tools).toEqual(['echo', 'fail', 'slow']);
}

/**
 * Proves that the child never reached the receiver: the accept queue is FIFO, so once a
 * connection of ours made after the child exited has been accepted, any connection the child
 * had made would have been accepted (and counted) before it.
 */
async function expectNoTrafficFromChild(): Promise<void> {
  const response = await fetch(`${receiver.url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(200);
  await waitFor(
    () => receiver.requests.length >= 1,
    2_000,
    () => 'for the barrier request',
  );
  expect(receiver.connections).toBe(1);
  expect(receiver.requests.map((r) => r.path)).toEqual(['/v1/logs']);
}

interface Located {
  span: OtlpSpan;
  resource: OtlpAttributes;
}

function only(spans: Located[], name: string, kind: number): Located {
  const found = spans.filter((s) => s.span.name === name && s.span.kind === kind);
  expect(
    found,
    `spans named ${name} of kind ${kind}; have ${spans.map((s) => `${s.span.name}/${s.span.kind}`).join(', ')}`,
  ).toHaveLength(1);
  return found[0]!;
}

/** Everything the basic scenario must put on the wire, whatever the encoding. */
function expectBasicScenarioExported(encoding: 'json' | 'protobuf', contentEncoding?: string) {
  const requests = receiver.requests;
  expect(requests.length).toBeGreaterThan(0);
  for (const request of requests) {
    expect(request.path).toBe('/v1/traces');
    expect(request.encoding).toBe(encoding);
    expect(request.decodeError).toBeUndefined();
    // OTEL_EXPORTER_OTLP_HEADERS, as Honeycomb needs it.
    expect(request.headers['x-honeycomb-team']).toBe('testkey');
    expect(request.headers['content-encoding']).toBe(contentEncoding);
  }

  // Grouped by resource: within one export request, each resource appears once.
  for (const request of requests) {
    const keys = request.traces!.resourceSpans.map((rs) => resourceKey(rs.resource));
    expect(new Set(keys).size).toBe(keys.length);
  }
  const resources = receiver.resourceSpans().map((rs) => rs.resource);
  for (const resource of resources) {
    // OTEL_SERVICE_NAME wins over the server's own name ('e2e-fixture').
    expect(resource['service.name']).toBe(SERVICE_NAME);
    expect(resource['telemetry.sdk.language']).toBe('nodejs');
  }
  for (const rs of receiver.resourceSpans()) {
    for (const ss of rs.scopeSpans) {
      expect(ss.scope.name).toBe('mcp-otel');
      expect(ss.scope.version).not.toBe('');
    }
  }

  const spans = receiver.spans();
  const calls = ['initialize', 'tools/call echo', 'tools/call fail', 'tools/list'];
  const server = Object.fromEntries(calls.map((n) => [n, only(spans, n, SPAN_KIND_SERVER)]));
  const client = Object.fromEntries(calls.map((n) => [n, only(spans, n, SPAN_KIND_CLIENT)]));

  // Sessions as resources: each side's session (the server's and the client's connection)
  // is one resource carrying who the client was; the side's spans live in it.
  const serverSession = server['tools/call echo']!.resource;
  const clientSession = client['tools/call echo']!.resource;
  for (const session of [serverSession, clientSession]) {
    expect(session).toMatchObject({
      'mcp.client.name': 'claude-ai',
      'mcp.client.version': '0.9.0',
      'mcp.client.platform': 'claude',
      'mcp.protocol.version': LATEST_PROTOCOL_VERSION,
      'service.name': SERVICE_NAME,
    });
    expect(session['mcp.session.id']).toEqual(expect.any(String));
  }
  expect(serverSession['mcp.session.id']).not.toBe(clientSession['mcp.session.id']);
  const sessionIds = new Set(
    resources.map((r) => r['mcp.session.id']).filter((id) => id !== undefined),
  );
  expect(sessionIds).toEqual(
    new Set([serverSession['mcp.session.id'], clientSession['mcp.session.id']]),
  );
  for (const [side, session] of [
    [server, serverSession],
    [client, clientSession],
  ] as const) {
    for (const name of ['tools/call echo', 'tools/call fail', 'tools/list']) {
      expect(side[name]!.resource, name).toEqual(session);
    }
    // The initialize span carries the session id it created as an attribute. Its resource is
    // not (yet) the session's: the session only exists once initialize has completed.
    expect(side['initialize']!.span.attributes['mcp.session.id']).toBe(session['mcp.session.id']);
  }
  // Every span in a session resource carries that session's id as an attribute too (spec).
  for (const { span, resource } of spans) {
    if (resource['mcp.session.id'] !== undefined) {
      expect(span.attributes['mcp.session.id'], span.name).toBe(resource['mcp.session.id']);
    }
  }

  for (const name of calls) {
    const s = server[name]!.span;
    const c = client[name]!.span;
    const method = name.split(' ')[0]!;
    for (const span of [s, c]) {
      expect(span.attributes['mcp.method.name']).toBe(method);
      expect(span.attributes['jsonrpc.request.id']).toEqual(expect.any(String));
      expect(span.attributes['mcp.protocol.version']).toBe(LATEST_PROTOCOL_VERSION);
      expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(span.startTimeUnixNano));
    }
    // One call, one trace: the server span's parent is the client span, through params._meta.
    expect(c.parentSpanId).toBe('');
    expect(s.traceId).toBe(c.traceId);
    expect(s.parentSpanId).toBe(c.spanId);
    expect(s.attributes['jsonrpc.request.id']).toBe(c.attributes['jsonrpc.request.id']);
  }
  expect(new Set(calls.map((n) => client[n]!.span.traceId)).size).toBe(calls.length);

  for (const side of [server, client]) {
    const echo = side['tools/call echo']!.span;
    expect(echo.attributes).toMatchObject({
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
    });
    expect(echo.attributes['error.type']).toBeUndefined();
    expect(echo.status.code).toBe(0);

    const fail = side['tools/call fail']!.span;
    expect(fail.attributes).toMatchObject({
      'gen_ai.tool.name': 'fail',
      'gen_ai.operation.name': 'execute_tool',
      'error.type': 'tool_error',
    });
    expect(fail.status).toEqual({ code: STATUS_CODE_ERROR, message: 'the tool failed on purpose' });

    for (const name of ['initialize', 'tools/list']) {
      expect(side[name]!.span.attributes['gen_ai.operation.name']).toBeUndefined();
      expect(side[name]!.span.attributes['gen_ai.tool.name']).toBeUndefined();
      expect(side[name]!.span.status.code).toBe(0);
    }
  }

  // The first tools/list result is schema version 1, an event on the span that produced it.
  const list = server['tools/list']!.span;
  const created = list.events.filter((e) => e.name === 'mcp.schema.version_created');
  expect(created).toHaveLength(1);
  expect(created[0]!.attributes).toMatchObject({
    'mcp.schema.method': 'tools/list',
    'mcp.schema.version': 1,
    'mcp.schema.added': [],
    'mcp.schema.removed': [],
    'mcp.schema.modified': [],
  });
  expect(created[0]!.attributes['mcp.schema.content_hash']).toMatch(/^[0-9a-f]{64}$/);
  expect(created[0]!.attributes['mcp.schema.version_id']).toEqual(expect.any(String));
  // Content capture is off by default: no payload.
  expect(created[0]!.attributes['mcp.schema.payload']).toBeUndefined();
  const at = BigInt(created[0]!.timeUnixNano);
  expect(at >= BigInt(list.startTimeUnixNano) && at <= BigInt(list.endTimeUnixNano)).toBe(true);
}

function resourceKey(resource: OtlpAttributes): string {
  return JSON.stringify(Object.entries(resource).sort(([a], [b]) => a.localeCompare(b)));
}

describe('OTLP export from the one-line setup, over a real socket', () => {
  it('exports OTLP/JSON (http/json) that decodes with the official proto', async () => {
    const result = await runFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=testkey',
    });
    expectMcpCallsWorked(expectCleanRun(result));
    // A correctly configured one-line setup prints nothing at all.
    expect(result.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('E2E_OK '))).toEqual(
      [],
    );
    expectBasicScenarioExported('json');
  });

  it('exports OTLP/protobuf (http/protobuf, gzip) that decodes with the official proto', async () => {
    const result = await runFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=testkey',
    });
    expectMcpCallsWorked(expectCleanRun(result));
    expect(result.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('E2E_OK '))).toEqual(
      [],
    );
    expectBasicScenarioExported('protobuf', 'gzip');
  });

  it('with OTEL_TRACES_EXPORTER=console writes spans as JSON lines to stderr, never stdout', async () => {
    const result = await runFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_EXPORTER: 'console',
    });
    expectMcpCallsWorked(expectCleanRun(result));
    const lines = result.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('E2E_OK '));
    expect(lines.length).toBeGreaterThan(0);
    const spans = lines.map(
      (l) =>
        JSON.parse(l) as {
          name: string;
          kind: SpanKind;
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          attributes: Record<string, unknown>;
          resource: Record<string, unknown>;
        },
    );
    const server = spans.filter((s) => s.name === 'tools/call echo' && s.kind === SpanKind.SERVER);
    const client = spans.filter((s) => s.name === 'tools/call echo' && s.kind === SpanKind.CLIENT);
    expect(server).toHaveLength(1);
    expect(client).toHaveLength(1);
    expect(server[0]!.traceId).toBe(client[0]!.traceId);
    expect(server[0]!.parentSpanId).toBe(client[0]!.spanId);
    expect(server[0]!.attributes['gen_ai.tool.name']).toBe('echo');
    expect(server[0]!.resource).toMatchObject({
      'service.name': SERVICE_NAME,
      'mcp.client.name': 'claude-ai',
      'mcp.session.id': server[0]!.attributes['mcp.session.id'],
    });
    expect(spans.map((s) => s.name)).toEqual(
      expect.arrayContaining(['initialize', 'tools/call fail', 'tools/list']),
    );
    await expectNoTrafficFromChild();
  });

  it('with OTEL_SDK_DISABLED=true exports nothing and the MCP calls still work', async () => {
    const result = await runFixture({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SDK_DISABLED: 'true',
    });
    expectMcpCallsWorked(expectCleanRun(result));
    await expectNoTrafficFromChild();
  });

  it(
    `a burst of ${BURST_CALLS} tool calls, then shutdown(): every span reaches the collector`,
    { timeout: BURST_DEADLINE_MS + 10_000 },
    async () => {
      const result = await runFixture(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          E2E_SCENARIO: 'burst',
          E2E_CALLS: String(BURST_CALLS),
        },
        BURST_DEADLINE_MS,
      );
      const summary = expectCleanRun(result);
      expect(summary.calls).toBe(BURST_CALLS);
      // The span pipeline dropped nothing (it says so, once, when it does).
      expect(result.stderr).not.toMatch(/dropping spans/);
      expect(receiver.requests.every((r) => r.decodeError === undefined)).toBe(true);
      const spans = receiver.spans().map((s) => s.span);
      const count = (kind: number) =>
        spans.filter((s) => s.name === 'tools/call echo' && s.kind === kind).length;
      // The fixture's timings (calls, shutdown) explain a miss: shutdown() is bounded (5 s).
      const timings = JSON.stringify(summary);
      expect(count(SPAN_KIND_SERVER), timings).toBe(BURST_CALLS);
      expect(count(SPAN_KIND_CLIENT), timings).toBe(BURST_CALLS);
      expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    },
  );
});

describe('the OTLP receiver test helper', () => {
  it('answers with the configured status, or holds the request until close()', async () => {
    const post = () =>
      fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [] }),
      });
    expect((await post()).status).toBe(200);
    receiver.setBehaviour({ mode: 'status', status: 429, retryAfterSeconds: 3 });
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    receiver.setBehaviour({ mode: 'hang' });
    const hung = post();
    await waitFor(
      () => receiver.requests.length === 3,
      2_000,
      () => 'for the hung request',
    );
    await receiver.close();
    await expect(hung).rejects.toThrow();
    receiver = await startOtlpReceiver(); // afterEach closes it
  });

  it('rejects OTLP/JSON whose ids are not hex (OTLP/JSON is not plain proto3 JSON)', () => {
    const body = (traceId: string) =>
      Buffer.from(
        JSON.stringify({
          resourceSpans: [
            { scopeSpans: [{ spans: [{ traceId, spanId: '00f067aa0ba902b7', name: 'x' }] }] },
          ],
        }),
      );
    const ok = decodeTraces(body('4bf92f3577b34da6a3ce929d0e0e4736'), 'json');
    expect(ok.resourceSpans[0]!.scopeSpans[0]!.spans[0]).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: '',
      name: 'x',
    });
    // The same id in base64, as proto3 JSON would write it.
    const base64 = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex').toString('base64');
    expect(() => decodeTraces(body(base64), 'json')).toThrow(/traceId is not 16-byte hex/);
  });
});
