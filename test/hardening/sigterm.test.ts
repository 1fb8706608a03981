/**
 * Issue 7, "Shutdown": SIGTERM to a stdio server instrumented with the one line
 * (`instrument(server)`, configured by OTEL_* only). Its last spans reach the collector within
 * 2 s of the signal, then the process ends the way the host intended: killed by SIGTERM exactly
 * as without instrumentation (the control runs the same fixture uninstrumented), or with the
 * host's own exit code when it handles SIGTERM itself. The batch delay is set to a minute, so
 * the spans can only get out through the shutdown that SIGTERM starts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startOtlpReceiver,
  waitFor,
  type OtlpReceiver,
  type OtlpSpan,
} from '../helpers/otlp-receiver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/hardening-stdio-server.ts', import.meta.url));
/** The promise: the last spans are out within 2 s of SIGTERM. */
const EXPORT_BOUND_MS = 2_000;
/** The bus's shutdown bound (5 s), plus room for a loaded machine to deliver the exit. */
const EXIT_BOUND_MS = 7_000;

const receivers: OtlpReceiver[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const receiver of receivers.splice(0)) await receiver.close();
});

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** ms from SIGTERM to the first tools/call span at the receiver (undefined: none came). */
  readonly exportMs: number | undefined;
  /** ms from SIGTERM to the exit. */
  readonly exitMs: number;
  readonly spans: OtlpSpan[];
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts the fixture, initializes, answers one tools/call (and leaves a slow one in flight),
 * sends SIGTERM, and watches the receiver and the exit.
 */
async function runUntilSigterm(env: Record<string, string>): Promise<Outcome> {
  const receiver = await startOtlpReceiver();
  receivers.push(receiver);
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OTEL_') && !key.startsWith('HARDENING_')) base[key] = value;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: {
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const send = (message: object): void => {
    child.stdin.write(`${JSON.stringify(message)}\n`);
  };
  await waitFor(
    () => stderr.includes('ready'),
    20_000,
    () => stderr,
  );
  send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'sigterm-test', version: '1.0.0' },
    },
  });
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'last words' } },
  });
  send({
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: { name: 'slow', arguments: { ms: 60_000 } },
  });
  await waitFor(
    () => stdout.includes('"id":2'),
    10_000,
    () => stdout,
  );
  // Nothing exported yet: the batch delay is a minute.
  expect(receiver.spans()).toEqual([]);

  const signalled = performance.now();
  child.kill('SIGTERM');
  let exportMs: number | undefined;
  const arrived = waitFor(
    () => receiver.spans().some(({ span }) => span.name.startsWith('tools/call')),
    EXIT_BOUND_MS,
  ).then(
    () => (exportMs = performance.now() - signalled),
    () => undefined,
  );
  const [code, signal] = await exited;
  const exitMs = performance.now() - signalled;
  await arrived;
  return {
    code,
    signal,
    exportMs,
    exitMs,
    spans: receiver.spans().map(({ span }) => span),
    stdout,
    stderr,
  };
}

describe('SIGTERM to an instrumented stdio server', () => {
  it('exports its last spans within 2 s and dies of SIGTERM as it does uninstrumented, or exits with the host’s code', async () => {
    const [control, instrumented, hostHandled] = await Promise.all([
      runUntilSigterm({ HARDENING_INSTRUMENT: '0' }),
      runUntilSigterm({}),
      runUntilSigterm({ HARDENING_HOST_EXIT: '3' }),
    ]);
    process.stderr.write(
      `[hardening] SIGTERM: spans out after ${Math.round(instrumented.exportMs ?? -1)} ms, exit after ${Math.round(
        instrumented.exitMs,
      )} ms (uninstrumented: ${Math.round(control.exitMs)} ms); host-handled: spans ${Math.round(
        hostHandled.exportMs ?? -1,
      )} ms, exit ${Math.round(hostHandled.exitMs)} ms\n`,
    );

    // The control: without instrumentation the default action kills the process.
    expect({ code: control.code, signal: control.signal }).toEqual({
      code: null,
      signal: 'SIGTERM',
    });
    expect(control.spans).toEqual([]);

    // Instrumented: the same end, after the spans are out.
    expect({ code: instrumented.code, signal: instrumented.signal }).toEqual({
      code: control.code,
      signal: control.signal,
    });
    expect(instrumented.exportMs).toBeDefined();
    expect(instrumented.exportMs!).toBeLessThanOrEqual(EXPORT_BOUND_MS);
    expect(instrumented.exitMs).toBeLessThan(EXIT_BOUND_MS);
    const names = instrumented.spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['initialize', 'tools/call echo']));
    const echo = instrumented.spans.find((s) => s.name === 'tools/call echo')!;
    expect(echo.attributes['mcp.method.name']).toBe('tools/call');

    // The host handles SIGTERM itself (await shutdown(), then exit 3): its code stands.
    expect({ code: hostHandled.code, signal: hostHandled.signal }).toEqual({
      code: 3,
      signal: null,
    });
    expect(hostHandled.exportMs).toBeDefined();
    expect(hostHandled.exportMs!).toBeLessThanOrEqual(EXPORT_BOUND_MS);
    expect(hostHandled.spans.map((s) => s.name)).toContain('tools/call echo');

    // Nothing but JSON-RPC on stdout, in every case.
    for (const outcome of [control, instrumented, hostHandled]) {
      for (const line of outcome.stdout.split('\n').filter((l) => l !== '')) {
        expect((JSON.parse(line) as { jsonrpc?: unknown }).jsonrpc, line).toBe('2.0');
      }
    }
  }, 60_000);

  it('a request still in flight at SIGTERM is not lost silently: its span ends and is exported', async () => {
    const outcome = await runUntilSigterm({});
    const slow = outcome.spans.find((s) => s.name === 'tools/call slow');
    expect(slow, outcome.spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(slow!.status.code).toBe(2); // ERROR
    expect(slow!.attributes['error.type']).toBeDefined();
  }, 30_000);
});
