/**
 * The middleware over a real stdio child process: the server side instrumented inside the
 * child (process-wide bus, JSONL sink, nothing but its own exit to get the events out), and the
 * client side instrumented in this process over the SDK's StdioClientTransport.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  createMemorySink,
  EventBus,
  instrument,
  type MemorySink,
  type ProxyEvent,
  type RequestEvent,
  type SessionEndEvent,
  type SessionStartEvent,
} from '../../src/index.js';
import { createTestClient } from '../helpers/v1.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/stdio-server.ts', import.meta.url));
/** Upper bound on waiting for the child to write its events out after the client left. */
const EVENTS_DEADLINE_MS = 10_000;
/** Client-side request timeout: a hang fails fast instead of at the test timeout. */
const REQUEST_TIMEOUT_MS = 8_000;

let dir: string;
let eventsFile: string;
let client: Client | undefined;
let child: ChildProcessWithoutNullStreams | undefined;
let bus: EventBus | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-otel-stdio-'));
  eventsFile = join(dir, 'events.jsonl');
});

afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
  await bus?.shutdown();
  bus = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function clientTransport(): { transport: StdioClientTransport; stderr: () => string } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', FIXTURE],
    env: { ...process.env, EVENTS_FILE: eventsFile },
    cwd: ROOT,
    stderr: 'pipe',
  });
  let text = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { transport, stderr: () => text };
}

/** The complete lines of the child's JSONL file, parsed. */
function readEvents(): ProxyEvent[] {
  if (!existsSync(eventsFile)) return [];
  const text = readFileSync(eventsFile, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ProxyEvent);
}

/** Polls the events file until `done` holds, for at most EVENTS_DEADLINE_MS. */
async function waitForEvents(
  done: (events: ProxyEvent[]) => boolean,
  stderr: () => string,
): Promise<ProxyEvent[]> {
  const deadline = Date.now() + EVENTS_DEADLINE_MS;
  for (;;) {
    const events = readEvents();
    if (done(events)) return events;
    if (Date.now() > deadline) {
      throw new Error(
        `events file incomplete after ${EVENTS_DEADLINE_MS} ms:\n${events
          .map((e) => JSON.stringify(e))
          .join('\n')}\nchild stderr:\n${stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const requests = (events: readonly ProxyEvent[]): RequestEvent[] =>
  events.filter((e): e is RequestEvent => e.type === 'request');

describe('stdio server in a child process', () => {
  it('writes session, request and schema events to its JSONL file and ends the session when the client leaves', async () => {
    const { transport, stderr } = clientTransport();
    client = createTestClient('claude-ai');
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    const options = { timeout: REQUEST_TIMEOUT_MS };

    const echoed = await client.callTool(
      { name: 'echo', arguments: { text: 'héllo ✓' } },
      undefined,
      options,
    );
    expect(echoed.content).toEqual([{ type: 'text', text: 'héllo ✓' }]);
    const failed = await client.callTool({ name: 'fail', arguments: {} }, undefined, options);
    expect(failed.isError).toBe(true);
    const listed = await client.listTools(undefined, options);
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['echo', 'fail', 'slow']);

    // Closing ends the child's stdin; the child must notice, end the session and write it out
    // before it exits on its own (the SDK gives it 2 s before SIGTERM, which would say 'shutdown').
    await client.close();
    client = undefined;
    const events = await waitForEvents((all) => all.some((e) => e.type === 'session_end'), stderr);

    const starts = events.filter((e): e is SessionStartEvent => e.type === 'session_start');
    expect(starts).toHaveLength(1);
    const start = starts[0]!;
    expect(start).toMatchObject({
      clientName: 'claude-ai',
      clientVersion: '0.9.0',
      clientPlatform: 'claude',
      transport: 'stdio',
      role: 'server',
      server: 'stdio-fixture',
      serverName: 'stdio-fixture',
      serverVersion: '1.2.3',
    });
    expect(start.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(start.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const reqs = requests(events);
    for (const event of reqs) {
      expect(event).toMatchObject({
        role: 'server',
        transport: 'stdio',
        server: 'stdio-fixture',
        sessionId: start.sessionId,
        clientName: 'claude-ai',
        clientPlatform: 'claude',
      });
      expect(event.requestSize).toBeGreaterThan(0);
      if (event.note !== 'notification') expect(event.responseSize).toBeGreaterThan(0);
    }
    const calls = reqs.filter((e) => e.mcpMethod === 'tools/call');
    expect(calls.map((e) => [e.tool, e.note])).toEqual([
      ['echo', 'ok'],
      ['fail', 'tool_error'],
    ]);
    expect(calls[1]!.errorMsg).toBe('the tool failed on purpose');
    expect(reqs.find((e) => e.mcpMethod === 'initialize')?.note).toBe('ok');
    expect(reqs.find((e) => e.mcpMethod === 'tools/list')?.note).toBe('ok');
    expect(reqs.find((e) => e.mcpMethod === 'notifications/initialized')?.note).toBe(
      'notification',
    );

    const schema = events.filter((e) => e.type === 'schema_version_created');
    expect(schema).toHaveLength(1);
    expect(schema[0]).toMatchObject({
      method: 'tools/list',
      version: 1,
      sessionId: start.sessionId,
      role: 'server',
    });

    const ends = events.filter((e): e is SessionEndEvent => e.type === 'session_end');
    expect(ends).toHaveLength(1);
    const answered = reqs.filter((e) => e.note !== 'notification');
    expect(ends[0]).toMatchObject({
      sessionId: start.sessionId,
      reason: 'closed',
      transport: 'stdio',
      role: 'server',
      requestCount: answered.length,
      errorCount: answered.filter((e) => e.note !== 'ok').length,
    });
    expect(ends[0]!.errorCount).toBe(1);
    expect(answered.length).toBeGreaterThanOrEqual(4);
    expect(stderr()).not.toContain('[mcp-otel]');
  });

  it('writes nothing but JSON-RPC lines to stdout, and sizes are the bytes on the wire', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, EVENTS_FILE: eventsFile },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = child;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = once(proc, 'exit');
    const lineFor = async (id: number): Promise<string> => {
      await vi.waitFor(
        () => {
          if (!stdout.split('\n').some((line) => line.includes(`"id":${id}`))) {
            throw new Error(`no response ${id} yet; stdout: ${stdout}; stderr: ${stderr}`);
          }
        },
        { timeout: EVENTS_DEADLINE_MS, interval: 20 },
      );
      return stdout.split('\n').find((line) => line.includes(`"id":${id}`))!;
    };

    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'raw-client', version: '1.0.0' },
      },
    });
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'naïve 🎉 “quotes” \\ "escaped"' } },
    });
    proc.stdin.write(initialize + '\n');
    const initResponse = await lineFor(1);
    proc.stdin.write(
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n',
    );
    proc.stdin.write(call + '\n');
    const callResponse = await lineFor(2);
    proc.stdin.end();
    const [code] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`child did not exit on stdin EOF; stderr: ${stderr}`)),
          EVENTS_DEADLINE_MS,
        ),
      ),
    ]);
    expect(code).toBe(0);

    const lines = stdout.split('\n');
    expect(lines.at(-1)).toBe(''); // newline-terminated
    const messages = lines.slice(0, -1).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(message.jsonrpc).toBe('2.0');
      expect('result' in message || 'error' in message || 'method' in message).toBe(true);
    }
    expect(messages.map((m) => m.id)).toEqual([1, 2]);

    const events = readEvents();
    const reqs = requests(events);
    const initEvent = reqs.find((e) => e.mcpMethod === 'initialize')!;
    const callEvent = reqs.find((e) => e.mcpMethod === 'tools/call')!;
    expect(initEvent.requestSize).toBe(Buffer.byteLength(initialize));
    expect(initEvent.responseSize).toBe(Buffer.byteLength(initResponse));
    expect(callEvent).toMatchObject({ tool: 'echo', note: 'ok', clientName: 'raw-client' });
    expect(callEvent.requestSize).toBe(Buffer.byteLength(call));
    expect(callEvent.responseSize).toBe(Buffer.byteLength(callResponse));
    expect(events.filter((e) => e.type === 'session_end')).toEqual([
      expect.objectContaining({ reason: 'closed', requestCount: 2, errorCount: 0 }),
    ]);
  });
});

describe('client instrumented over StdioClientTransport', () => {
  let sink: MemorySink;

  beforeEach(() => {
    sink = createMemorySink();
    bus = new EventBus({ sinks: [sink] });
  });

  it('emits client-role stdio events for what it sends, and ends its session on close', async () => {
    const { transport } = clientTransport();
    client = instrument(createTestClient('claude-ai'), { bus, heartbeatIntervalMs: 0 });
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    const options = { timeout: REQUEST_TIMEOUT_MS };
    await client.callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, options);
    await client.callTool({ name: 'fail', arguments: {} }, undefined, options);
    await client.listTools(undefined, options);
    await client.close();
    client = undefined;
    await bus!.flush();

    const starts = sink.ofType('session_start');
    expect(starts).toEqual([
      expect.objectContaining({
        role: 'client',
        transport: 'stdio',
        server: 'stdio-fixture',
        serverName: 'stdio-fixture',
        serverVersion: '1.2.3',
        clientName: 'claude-ai',
        clientPlatform: 'claude',
      }),
    ]);
    const sessionId = starts[0]!.sessionId;
    const reqs = sink.ofType('request');
    expect(reqs.length).toBeGreaterThanOrEqual(5);
    for (const event of reqs) {
      expect(event).toMatchObject({ role: 'client', transport: 'stdio', sessionId });
    }
    expect(reqs.filter((e) => e.mcpMethod === 'tools/call').map((e) => [e.tool, e.note])).toEqual([
      ['echo', 'ok'],
      ['fail', 'tool_error'],
    ]);
    expect(sink.ofType('schema_version_created')).toEqual([
      expect.objectContaining({ method: 'tools/list', role: 'client', sessionId }),
    ]);
    const answered = reqs.filter((e) => e.note !== 'notification');
    expect(sink.ofType('session_end')).toEqual([
      expect.objectContaining({
        sessionId,
        reason: 'closed',
        role: 'client',
        requestCount: answered.length,
        errorCount: 1,
      }),
    ]);
  });

  it('ends a pending call as closed when the server process is killed', async () => {
    const { transport } = clientTransport();
    const send = vi.spyOn(transport, 'send');
    client = instrument(createTestClient('claude-ai'), { bus, heartbeatIntervalMs: 0 });
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    const pid = transport.pid;
    expect(pid).toBeTypeOf('number');

    const call = client.callTool({ name: 'slow', arguments: { ms: 5_000 } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const outcome = call.then(
      () => 'answered',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    await vi.waitFor(
      () =>
        expect(
          send.mock.calls.map(([message]) => (message as { method?: string }).method),
        ).toContain('tools/call'),
      { timeout: REQUEST_TIMEOUT_MS, interval: 10 },
    );
    const closed = new Promise<void>((resolve) => {
      const previous = client!.onclose;
      client!.onclose = () => {
        previous?.();
        resolve();
      };
    });
    process.kill(pid!, 'SIGKILL');
    await closed;
    expect(await outcome).toMatch(/closed/i);
    await bus!.flush();

    const slow = sink.ofType('request').filter((e) => e.tool === 'slow');
    expect(slow).toEqual([
      expect.objectContaining({
        role: 'client',
        transport: 'stdio',
        mcpMethod: 'tools/call',
        note: 'closed',
      }),
    ]);
    expect(slow[0]!.responseSize).toBeUndefined();
    expect(sink.ofType('session_end')).toEqual([
      expect.objectContaining({ reason: 'closed', role: 'client', errorCount: 1 }),
    ]);
  });
});
